/**
 * The gateway process the VS Code extension starts (bundled as dist/gateway.js): a JSON-RPC
 * connection in the vscode-languageserver style. At `initialize` it serves, or joins, the account's
 * gateway with the extension's settings; then it answers the requests of shared/rpc.ts and pushes
 * `creditgate/statusChanged` on every change. Logs go to the editor's "Creditgate" output channel;
 * upstream keys are never logged.
 */
import { explainStartFailure } from './editor/startFailure';
import { createConnection, ProposedFeatures, ResponseError } from 'vscode-languageserver/node';
import type { GatewayInitOptions, UpstreamName } from '../shared/rpc';
import { InfoChangedNotification, RpcErrorCode, StatusChangedNotification, UpstreamKeyRejectedNotification } from '../shared/rpc';
import type { Logger } from './gateway/context';
import { UpstreamKeys } from './gateway/upstream';
import { AccountHost } from './editor/accountHost';
import { readInitOptions } from './editor/initOptions';
import { registerRpcHandlers } from './editor/rpcHandlers';
import * as operations from './accountOperations';
import { stopOnSignals } from './stopSignals';

const connection = createConnection(ProposedFeatures.all);
const log: Logger = {
  info: (message) => connection.console.info(message),
  warn: (message) => connection.console.warn(message),
  error: (message) => connection.console.error(message),
};
const keys = UpstreamKeys.fromEnv(process.env);
let host: AccountHost | null = null;

registerRpcHandlers(connection, () => host, keys);
// A rejected key fails every request until it is replaced: tell the editor, at most once a minute per upstream.
const rejectedAt = new Map<UpstreamName, number>();
keys.onRejected((upstream) => {
  const now = Date.now();
  if (now - (rejectedAt.get(upstream) ?? -Infinity) < 60_000) return;
  rejectedAt.set(upstream, now);
  void connection.sendNotification(UpstreamKeyRejectedNotification, { upstream });
});

connection.onInitialize(async (params) => {
  const options: GatewayInitOptions = readInitOptions(params.initializationOptions);
  try {
    host = await AccountHost.start({
      location: { dataDir: options.dataDir, configFile: options.configFile, port: options.port },
      env: process.env,
      log,
      keys,
    });
  } catch (error) {
    // Shown to the user by the client; `retry: false` because restarting will not free the port.
    throw new ResponseError(RpcErrorCode.operationFailed, explainStartFailure(error), { retry: false });
  }
  await applySettings(host, options);
  return { capabilities: {}, serverInfo: { name: 'creditgate-gateway', version: '0.1.0' } };
});

/** Settings the user set explicitly win over the account's stored ones. */
async function applySettings(account: AccountHost, options: GatewayInitOptions): Promise<void> {
  // Values the extension did not pass (left at their defaults) leave the account's own alone.
  const { book } = account.account;
  const status = account.status();
  try {
    if (options.plan !== undefined && options.plan !== status.plan) await operations.setPlan(book, options.plan, operations.EDITOR_ACTOR);
    if (options.autoUseCredits !== undefined && options.autoUseCredits !== status.autoUseCredits) {
      await operations.setAutoUseCredits(book, options.autoUseCredits, operations.EDITOR_ACTOR);
    }
    if (options.autoReload !== undefined) await operations.setAutoReload(book, options.autoReload, operations.EDITOR_ACTOR);
  } catch (error) {
    log.warn(`setting not applied: ${(error as Error).message}`);
  }
}

connection.onInitialized(() => {
  if (!host) return;
  host.onStatus((status) => void connection.sendNotification(StatusChangedNotification, status));
  host.onInfo((info) => void connection.sendNotification(InfoChangedNotification, info));
  void connection.sendNotification(StatusChangedNotification, host.status());
});

/**
 * The language client waits 5 s for this process to stop (extension/gatewayClient.ts) and kills it
 * 2 s later: the grace period leaves time to end, bill and flush what is still running after it.
 */
const EDITOR_STOP_GRACE_MS = 3_000;

let stopping: Promise<void> | null = null;
const hurried = new AbortController();

/**
 * Stops the gateway (gracefully, when this process owns it) and closes the ledger. Later calls (the
 * shutdown request, then a signal) join the same stop; any of their `hurry` signals ends its grace period.
 */
function stop(hurry?: AbortSignal): Promise<void> {
  hurry?.addEventListener('abort', () => hurried.abort(), { once: true });
  if (!stopping) {
    const closing = host;
    host = null;
    const graceMs = closing ? Math.min(EDITOR_STOP_GRACE_MS, closing.account.config.shutdownGraceMs) : 0;
    stopping = closing?.close({ graceMs, hurry: hurried.signal }) ?? Promise.resolve();
  }
  return stopping;
}

connection.onShutdown(() => stop());
// Signals (the system shutting down, a user's kill) get the same stop as `creditgate serve`.
stopOnSignals(stop, log);

connection.listen();
