/**
 * The extension's side of the gateway process: a LanguageClient running dist/gateway.js on a Node
 * runtime over IPC, typed requests from shared/rpc.ts, and events for the status pushes and the
 * connection's life (so the status bar never shows a dead process's figures).
 */
import * as vscode from 'vscode';
import type { ErrorHandler, LanguageClientOptions, ServerOptions } from 'vscode-languageclient/node';
import { CloseAction, ErrorAction, LanguageClient, State, TransportKind } from 'vscode-languageclient/node';
import type { RequestType, RequestType0 } from 'vscode-languageserver-protocol';
import type { Status } from '../shared/protocol';
import type { GatewayInfo } from '../shared/rpc';
import type { UpstreamName } from '../shared/rpc';
import { InfoChangedNotification, InfoRequest, StatusChangedNotification, UpstreamKeyRejectedNotification } from '../shared/rpc';
import type { AccountConnection } from './accountConnection';
import type { ConnectionPhase } from './presentation/statusBarModel';
import { RestartPolicy } from './presentation/restartPolicy';
import { GATEWAY_NODE_FLAGS } from '../shared/gatewayRuntime';
import { gatewayEnvironment, gatewayInitOptions, runtimePath } from './settings';

export class GatewayClient implements AccountConnection {
  /** The local gateway: not a team server. */
  readonly server = null;
  /** Why a local gateway stopped is told by the language client and the logs. */
  readonly problem = null;
  private client: LanguageClient | null = null;
  private readonly restartPolicy = new RestartPolicy();
  private readonly statusEmitter = new vscode.EventEmitter<Status>();
  private readonly infoEmitter = new vscode.EventEmitter<GatewayInfo | null>();
  private readonly phaseEmitter = new vscode.EventEmitter<ConnectionPhase>();
  private readonly readyEmitter = new vscode.EventEmitter<void>();
  private readonly keyRejectedEmitter = new vscode.EventEmitter<UpstreamName>();
  private currentPhase: ConnectionPhase = 'stopped';
  private latest: Status | null = null;
  private currentInfo: GatewayInfo | null = null;

  /** A new status, pushed by the gateway or returned by a change made here. */
  readonly onStatus = this.statusEmitter.event;
  readonly onInfo = this.infoEmitter.event;
  readonly onPhase = this.phaseEmitter.event;
  /** The process is up and initialized (again): hand over what it does not keep (upstream keys). */
  readonly onReady = this.readyEmitter.event;
  /** The upstream refused the gateway's key for it. */
  readonly onUpstreamKeyRejected = this.keyRejectedEmitter.event;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  get phase(): ConnectionPhase {
    return this.currentPhase;
  }

  /** The last status while the process runs; null when it is not running. */
  get status(): Status | null {
    return this.latest;
  }

  get info(): GatewayInfo | null {
    return this.currentInfo;
  }

  async start(): Promise<void> {
    if (this.client) return;
    const client = this.createClient();
    this.client = client;
    this.setPhase('starting');
    try {
      await client.start();
    } catch (error) {
      this.log.error(`the gateway did not start: ${(error as Error).message}`);
      this.setPhase('stopped');
    }
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client) {
      try {
        await client.dispose(5_000);
      } catch (error) {
        this.log.warn(`stopping the gateway: ${(error as Error).message}`);
      }
    }
    this.setPhase('stopped');
  }

  /** Stops and starts a fresh process, reading the settings again. */
  async restart(): Promise<void> {
    this.restartPolicy.reset();
    await this.stop();
    await this.start();
  }

  request<R>(type: RequestType0<R, void>): Promise<R> {
    return this.running().sendRequest(type);
  }

  requestWith<P, R>(type: RequestType<P, R, void>, params: P): Promise<R> {
    // sendRequest types params as RequestParam<P>, which a generic P cannot be checked against.
    return this.running().sendRequest(type, params as P extends null ? P | undefined : P);
  }

  /** Sends a change and shows its returned status at once, without waiting for the push. */
  async change(type: RequestType0<Status, void>): Promise<Status> {
    return this.publish(await this.request(type));
  }

  async changeWith<P>(type: RequestType<P, Status, void>, params: P): Promise<Status> {
    return this.publish(await this.requestWith(type, params));
  }

  dispose(): void {
    void this.stop();
    this.statusEmitter.dispose();
    this.infoEmitter.dispose();
    this.phaseEmitter.dispose();
    this.readyEmitter.dispose();
    this.keyRejectedEmitter.dispose();
  }

  private createClient(): LanguageClient {
    const serverOptions: ServerOptions = {
      module: this.context.asAbsolutePath('dist/gateway.js'),
      transport: TransportKind.ipc,
      runtime: runtimePath(),
      // The gateway inherits the editor's environment (OPENAI_API_KEY, CREDITGATE_* and the like).
      options: { env: { ...process.env, ...gatewayEnvironment() }, execArgv: [...GATEWAY_NODE_FLAGS] },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [],
      outputChannel: this.log,
      initializationOptions: () => gatewayInitOptions(),
      errorHandler: this.errorHandler(),
      initializationFailedHandler: (error) => {
        const message = error instanceof Error ? error.message : String(error);
        void vscode.window.showErrorMessage(message, 'Open Settings', 'Show Logs').then((choice) => {
          if (choice === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', 'creditgate');
          if (choice === 'Show Logs') this.log.show();
        });
        return false;
      },
    };
    const client = new LanguageClient('creditgate', 'Creditgate', serverOptions, clientOptions);
    client.onNotification(StatusChangedNotification, (status) => {
      this.publish(status);
    });
    client.onNotification(InfoChangedNotification, (info) => this.setInfo(info));
    client.onNotification(UpstreamKeyRejectedNotification, ({ upstream }) => this.keyRejectedEmitter.fire(upstream));
    client.onDidChangeState(({ newState }) => {
      if (client !== this.client) return;
      if (newState === State.Running) void this.onRunning(client);
      else this.setPhase(newState === State.Starting ? 'starting' : 'stopped');
    });
    return client;
  }

  private async onRunning(client: LanguageClient): Promise<void> {
    this.setPhase('running');
    try {
      this.setInfo(await client.sendRequest(InfoRequest));
    } catch (error) {
      this.log.warn(`creditgate/info failed: ${(error as Error).message}`);
    }
    this.readyEmitter.fire();
  }

  private errorHandler(): ErrorHandler {
    return {
      // A malformed message is not a reason to kill the process; a dead one is handled by closed().
      error: () => ({ action: ErrorAction.Continue, handled: true }),
      closed: () => {
        if (this.restartPolicy.shouldRestart(Date.now())) {
          this.log.warn('the gateway process exited; restarting it');
          return { action: CloseAction.Restart, handled: true };
        }
        return {
          action: CloseAction.DoNotRestart,
          message: 'The Creditgate gateway stopped 5 times in 3 minutes and will not be restarted. See "Creditgate: Show Logs", then run "Creditgate: Restart Gateway".',
        };
      },
    };
  }

  private running(): LanguageClient {
    if (!this.client || this.currentPhase !== 'running') {
      throw new Error('The Creditgate gateway is not running. Run "Creditgate: Restart Gateway".');
    }
    return this.client;
  }

  private publish(status: Status): Status {
    this.latest = status;
    this.statusEmitter.fire(status);
    return status;
  }

  private setInfo(info: GatewayInfo | null): void {
    this.currentInfo = info;
    this.infoEmitter.fire(info);
  }

  private setPhase(phase: ConnectionPhase): void {
    if (phase !== 'running') {
      this.latest = null;
      if (this.currentInfo) this.setInfo(null);
    }
    if (phase === this.currentPhase) return;
    this.currentPhase = phase;
    this.phaseEmitter.fire(phase);
  }
}
