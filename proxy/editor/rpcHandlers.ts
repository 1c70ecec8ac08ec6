/**
 * Answers the extension's JSON-RPC requests (shared/rpc.ts) through the account operations shared
 * with the HTTP API and the CLI. Parameters are validated with the same schemas as the HTTP API;
 * refusals come back as ResponseErrors whose message is meant for the user.
 */
import type { Connection } from 'vscode-languageserver/node';
import { ResponseError } from 'vscode-languageserver/node';
import { describeIssues } from '../../shared/rateCard';
import type { Status, UsageGroup, UsageRow } from '../../shared/protocol';
import { addCreditsSchema, autoReloadSchema, balanceHistorySchema, setPlanSchema, usageQuerySchema } from '../../shared/requests';
import type * as z from '../../shared/zod';
import {
  AddCreditsRpc,
  BalanceHistoryRequest,
  InfoRequest,
  IssueTokenRequest,
  ListCreditsRequest,
  ListPlansRequest,
  RateCardRequest,
  ResetWindowsRequest,
  RpcErrorCode,
  SetAutoReloadRequest,
  SetAutoUseCreditsRequest,
  SetPlanRequest,
  SetUpstreamKeyRequest,
  StatusRequest,
  UsageRequest,
} from '../../shared/rpc';
import * as operations from '../accountOperations';
import { balanceHistory } from '../balanceHistory';
import type { UpstreamKeys } from '../gateway/upstream';
import { LedgerStorageError } from '../ledger/ledger';
import type { AccountHost } from './accountHost';

const CLIENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function parse<T extends z.ZodMiniType>(schema: T, params: unknown): z.infer<T> {
  const parsed = schema.safeParse(params ?? {});
  if (!parsed.success) throw new ResponseError(RpcErrorCode.invalidParams, describeIssues(parsed.error));
  return parsed.data;
}

/** Runs an operation, turning the account's refusals into user-facing ResponseErrors. */
async function attempt<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    // The ledger's storage failures name their cause and the database: the user can act on them too.
    if (error instanceof operations.OperationError || error instanceof LedgerStorageError) {
      throw new ResponseError(RpcErrorCode.operationFailed, error.message);
    }
    throw error;
  }
}

export function registerRpcHandlers(connection: Connection, getHost: () => AccountHost | null, keys: UpstreamKeys): void {
  const host = (): AccountHost => {
    const current = getHost();
    if (!current) throw new ResponseError(RpcErrorCode.notReady, 'The Creditgate gateway is still starting.');
    return current;
  };
  /** A change made here: announce it so every window (and the HTTP event stream) hears of it. */
  const changing = async (run: (h: AccountHost) => Promise<Status>): Promise<Status> => {
    const h = host();
    const status = await attempt(() => run(h));
    h.changed();
    return status;
  };

  connection.onRequest(StatusRequest, () => host().status());
  connection.onRequest(InfoRequest, () => host().info());
  connection.onRequest(UsageRequest, async (params) => {
    const query = parse(usageQuerySchema, params);
    const result = await attempt(() => operations.usage(host().account.book, query));
    // operations.usage returns groups exactly when groupBy is given.
    return query.groupBy ? { kind: 'groups' as const, groups: result as UsageGroup[] } : { kind: 'rows' as const, rows: result as UsageRow[] };
  });
  connection.onRequest(AddCreditsRpc, (params) => {
    const body = parse(addCreditsSchema, params);
    return changing((h) => operations.addCredits(h.account.book, body, operations.EDITOR_ACTOR));
  });
  connection.onRequest(ResetWindowsRequest, () => changing((h) => operations.resetWindows(h.account.book, operations.EDITOR_ACTOR)));
  connection.onRequest(SetPlanRequest, (params) => {
    const { plan } = parse(setPlanSchema, params);
    return changing((h) => operations.setPlan(h.account.book, plan, operations.EDITOR_ACTOR));
  });
  connection.onRequest(SetAutoUseCreditsRequest, (params) => {
    if (typeof params?.on !== 'boolean') throw new ResponseError(RpcErrorCode.invalidParams, 'on: expected a boolean');
    return changing((h) => operations.setAutoUseCredits(h.account.book, params.on, operations.EDITOR_ACTOR));
  });
  connection.onRequest(SetAutoReloadRequest, (params) => {
    const config = parse(autoReloadSchema, params);
    return changing((h) => operations.setAutoReload(h.account.book, config, operations.EDITOR_ACTOR));
  });
  connection.onRequest(ListPlansRequest, () => {
    const h = host();
    const plans = Object.entries(h.account.config.plans).map(([name, plan]) => ({ name, ...plan }));
    return { current: h.status().plan, plans };
  });
  connection.onRequest(ListCreditsRequest, () => operations.listCredits(host().account.book));
  connection.onRequest(RateCardRequest, () => {
    const { version, creditUsd, packs } = host().account.config.rateCard;
    return { version, creditUsd, packs };
  });
  connection.onRequest(BalanceHistoryRequest, async (params) => {
    const { since, timeZone } = parse(balanceHistorySchema, params);
    const from = since === undefined ? undefined : Date.parse(since);
    const log = await host().account.book.creditLog(from);
    return balanceHistory(log, { since: from, timeZone });
  });
  connection.onRequest(IssueTokenRequest, (params) => {
    const name = typeof params?.name === 'string' ? params.name.trim() : '';
    if (!CLIENT_NAME.test(name)) throw new ResponseError(RpcErrorCode.invalidParams, 'name: use letters, digits, ".", "_" or "-" (at most 64)');
    return { name, token: host().account.ledger.issueToken(name) };
  });
  connection.onRequest(SetUpstreamKeyRequest, (params) => {
    if ((params?.upstream !== 'openai' && params?.upstream !== 'anthropic') || (params.key !== null && typeof params.key !== 'string')) {
      throw new ResponseError(RpcErrorCode.invalidParams, 'expected { upstream: "openai" | "anthropic", key: string | null }');
    }
    // Held in memory only: the key is never written to disk and never logged.
    keys.set(params.upstream, params.key === null ? null : params.key.trim() || null);
  });
}
