/**
 * The editor attached to a team gateway (docs/product.md §8 "In the editor"): the same AccountConnection
 * as the local gateway process, served over the gateway's HTTP API by team/teamConnection.ts, with the
 * member token from SecretStorage. A missing or refused token is asked for (once at a time); an
 * unreachable gateway shows in the status bar and is retried.
 */
import * as vscode from 'vscode';
import type { RequestType, RequestType0 } from 'vscode-languageserver-protocol';
import type { Status } from '../shared/protocol';
import type { GatewayInfo } from '../shared/rpc';
import type { AccountConnection } from './accountConnection';
import type { ConnectionPhase } from './presentation/statusBarModel';
import { TeamGatewayConnection, type TeamPhase } from './team/teamConnection';
import { TeamGatewayError } from './team/teamHttp';
import type { TeamTokens } from './teamTokens';

const PHASE: Record<TeamPhase, ConnectionPhase> = {
  connecting: 'starting',
  connected: 'running',
  unreachable: 'unreachable',
  unauthorized: 'unauthorized',
  stopped: 'stopped',
};

export class TeamGatewayClient implements AccountConnection {
  readonly info: GatewayInfo | null = null;
  private connection: TeamGatewayConnection | null = null;
  private subscriptions: vscode.Disposable[] = [];
  private readonly statusEmitter = new vscode.EventEmitter<Status>();
  private readonly infoEmitter = new vscode.EventEmitter<GatewayInfo | null>();
  private readonly phaseEmitter = new vscode.EventEmitter<ConnectionPhase>();
  private currentPhase: ConnectionPhase = 'stopped';
  private missingToken: string | null = null;
  private asking: Promise<void> | null = null;
  private stopped = true;

  readonly onStatus = this.statusEmitter.event;
  readonly onInfo = this.infoEmitter.event;
  readonly onPhase = this.phaseEmitter.event;

  constructor(
    readonly server: string,
    private readonly tokens: TeamTokens,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  get phase(): ConnectionPhase {
    return this.currentPhase;
  }

  get status(): Status | null {
    return this.connection?.status ?? null;
  }

  get problem(): string | null {
    return this.missingToken ?? this.connection?.lastProblem ?? null;
  }

  async start(): Promise<void> {
    if (this.connection) return;
    this.stopped = false;
    const token = await this.tokens.get(this.server);
    if (this.stopped) return;
    if (token === undefined) {
      this.missingToken = `No member token is stored for ${this.server}.`;
      this.setPhase('unauthorized');
      void this.askForToken('This editor has no token for the team gateway yet.');
      return;
    }
    this.missingToken = null;
    this.connect(token);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const connection = this.connection;
    this.connection = null;
    for (const subscription of this.subscriptions.splice(0)) subscription.dispose();
    await connection?.stop();
    connection?.dispose();
    this.setPhase('stopped');
  }

  /** Connects afresh at once (the status bar's "retry now", or a new token). */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** "Creditgate: Set Team Gateway Token…", a refused token, or a token still missing. */
  askForToken(reason = ''): Promise<void> {
    this.asking ??= (async () => {
      try {
        const token = await this.tokens.prompt(this.server, reason);
        if (token !== undefined && !this.stopped) {
          this.log.info(`team gateway: a new token for ${this.server} was stored; reconnecting`);
          await this.restart();
        }
      } finally {
        this.asking = null;
      }
    })();
    return this.asking;
  }

  request<R>(type: RequestType0<R, void>): Promise<R> {
    return this.guard(() => this.live().requests.request(type));
  }

  requestWith<P, R>(type: RequestType<P, R, void>, params: P): Promise<R> {
    return this.guard(() => this.live().requests.requestWith(type, params));
  }

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
  }

  private connect(token: string): void {
    const connection = new TeamGatewayConnection({ url: this.server, token, log: this.log });
    this.connection = connection;
    this.subscriptions.push(
      connection.onStatus((status) => this.statusEmitter.fire(status)),
      connection.onPhase((phase) => {
        this.setPhase(PHASE[phase]);
        if (phase === 'unauthorized') void this.askForToken('The team gateway refused the stored token.');
      }),
    );
    connection.start();
  }

  private live(): TeamGatewayConnection {
    if (!this.connection || this.currentPhase !== 'running') {
      throw new Error(`The team gateway ${this.server} is not connected${this.problem ? `: ${this.problem}` : '.'}`);
    }
    return this.connection;
  }

  /** A refused token on any request asks for a new one; a member's refused change says whose it is. */
  private async guard<R>(send: () => Promise<R>): Promise<R> {
    try {
      return await send();
    } catch (error) {
      if (error instanceof TeamGatewayError && error.failure === 'unauthorized') void this.askForToken('The team gateway refused the stored token.');
      throw error;
    }
  }

  private publish(status: Status): Status {
    this.connection?.publish(status);
    return status;
  }

  private setPhase(phase: ConnectionPhase): void {
    if (phase === this.currentPhase) return;
    this.currentPhase = phase;
    this.phaseEmitter.fire(phase);
  }
}
