/**
 * What the status bar, the notifications, the commands and the Usage panel need from a gateway,
 * whichever serves the account: the local one this editor starts or joins through
 * vscode-languageclient (gatewayClient.ts), or a team gateway it attaches to over HTTP
 * (teamGatewayClient.ts). The requests are shared/rpc.ts's typed requests in both cases.
 */
import type * as vscode from 'vscode';
import type { RequestType, RequestType0 } from 'vscode-languageserver-protocol';
import type { Status } from '../shared/protocol';
import type { GatewayInfo } from '../shared/rpc';
import type { GatewayRequests } from './presentation/usagePanelData';
import type { ConnectionPhase } from './presentation/statusBarModel';

export interface AccountConnection extends GatewayRequests, vscode.Disposable {
  /** null for the local gateway; the team gateway's URL when attached to one. */
  readonly server: string | null;
  readonly phase: ConnectionPhase;
  /** The last status while connected; null otherwise. */
  readonly status: Status | null;
  /** The local gateway process's role and URL; null for a team gateway. */
  readonly info: GatewayInfo | null;
  /** Why there is no status (the team gateway cannot be reached, or refused the token), or null. */
  readonly problem: string | null;
  readonly onStatus: vscode.Event<Status>;
  readonly onInfo: vscode.Event<GatewayInfo | null>;
  readonly onPhase: vscode.Event<ConnectionPhase>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Starts afresh: a new gateway process, or a new connection to the team gateway at once. */
  restart(): Promise<void>;
  /** Sends a change and shows its returned status at once, without waiting for the push. */
  change(type: RequestType0<Status, void>): Promise<Status>;
  changeWith<P>(type: RequestType<P, Status, void>, params: P): Promise<Status>;
}

/** Whether Add Credits is for this user: locally (a budget top-up), and on a team gateway for whoever it lets buy. */
export function canBuyCredits(connection: AccountConnection): boolean {
  return canChangeAccount(connection) || connection.status?.mayBuyCredits === true;
}

/** Whether the commands that change the account are for this user: always locally, for admins on a team gateway. */
export function canChangeAccount(connection: AccountConnection): boolean {
  return connection.server === null || connection.status?.role === 'admin';
}
