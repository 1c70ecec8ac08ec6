/**
 * The gateway this window shows: the local one, or the team gateway named by `creditgate.server`.
 * The status bar, notifications, commands and Usage panel hold this one object; when the setting
 * changes it stops one connection, starts the other, and carries their events on.
 */
import * as vscode from 'vscode';
import type { RequestType, RequestType0 } from 'vscode-languageserver-protocol';
import type { Status } from '../shared/protocol';
import type { GatewayInfo } from '../shared/rpc';
import type { AccountConnection } from './accountConnection';
import type { ConnectionPhase } from './presentation/statusBarModel';

export class ActiveAccount implements AccountConnection {
  private current: AccountConnection;
  private subscriptions: vscode.Disposable[] = [];
  private readonly statusEmitter = new vscode.EventEmitter<Status>();
  private readonly infoEmitter = new vscode.EventEmitter<GatewayInfo | null>();
  private readonly phaseEmitter = new vscode.EventEmitter<ConnectionPhase>();
  private readonly switchEmitter = new vscode.EventEmitter<AccountConnection>();

  readonly onStatus = this.statusEmitter.event;
  readonly onInfo = this.infoEmitter.event;
  readonly onPhase = this.phaseEmitter.event;
  /** Another gateway now serves this window (after the connection's own events were carried over). */
  readonly onDidSwitch = this.switchEmitter.event;

  constructor(initial: AccountConnection) {
    this.current = initial;
    this.follow(initial);
  }

  /** The connection in use (the local gateway client, or a team gateway client). */
  get connection(): AccountConnection {
    return this.current;
  }

  get server(): string | null {
    return this.current.server;
  }

  get phase(): ConnectionPhase {
    return this.current.phase;
  }

  get status(): Status | null {
    return this.current.status;
  }

  get info(): GatewayInfo | null {
    return this.current.info;
  }

  get problem(): string | null {
    return this.current.problem;
  }

  /** Stops the connection in use and starts `next` in its place. */
  async switchTo(next: AccountConnection): Promise<void> {
    const previous = this.current;
    for (const subscription of this.subscriptions.splice(0)) subscription.dispose();
    await previous.stop();
    this.current = next;
    this.follow(next);
    this.switchEmitter.fire(next);
    this.phaseEmitter.fire(next.phase);
    this.infoEmitter.fire(next.info);
    await next.start();
  }

  start(): Promise<void> {
    return this.current.start();
  }

  stop(): Promise<void> {
    return this.current.stop();
  }

  restart(): Promise<void> {
    return this.current.restart();
  }

  request<R>(type: RequestType0<R, void>): Promise<R> {
    return this.current.request(type);
  }

  requestWith<P, R>(type: RequestType<P, R, void>, params: P): Promise<R> {
    return this.current.requestWith(type, params);
  }

  change(type: RequestType0<Status, void>): Promise<Status> {
    return this.current.change(type);
  }

  changeWith<P>(type: RequestType<P, Status, void>, params: P): Promise<Status> {
    return this.current.changeWith(type, params);
  }

  dispose(): void {
    for (const subscription of this.subscriptions.splice(0)) subscription.dispose();
    this.current.dispose();
    this.statusEmitter.dispose();
    this.infoEmitter.dispose();
    this.phaseEmitter.dispose();
    this.switchEmitter.dispose();
  }

  private follow(connection: AccountConnection): void {
    this.subscriptions.push(
      connection.onStatus((status) => this.statusEmitter.fire(status)),
      connection.onInfo((info) => this.infoEmitter.fire(info)),
      connection.onPhase((phase) => this.phaseEmitter.fire(phase)),
    );
  }
}
