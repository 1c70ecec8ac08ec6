/**
 * The extension's typed requests (shared/rpc.ts), answered by a team gateway's HTTP API instead of a
 * local gateway process: one protocol for the commands and the Usage panel whichever gateway serves
 * them. A request with no HTTP counterpart says so, naming what to use instead.
 */
import type { RequestType, RequestType0 } from 'vscode-languageserver-protocol';
import type { Status, UsageGroup, UsageQuery, UsageRow } from '../../shared/protocol';
import type { RateCard } from '../../shared/rateCard';
import type { BalanceHistoryParams, BalancePoint, RateCardSummary, UsageResult } from '../../shared/rpc';
import {
  AddCreditsRpc,
  BalanceHistoryRequest,
  PaymentOptionsRequest,
  PurchaseRequest,
  StartPurchaseRequest,
  ListCreditsRequest,
  RateCardRequest,
  ResetWindowsRequest,
  SetAutoReloadRequest,
  SetAutoUseCreditsRequest,
  SetPlanRequest,
  StatusRequest,
  UsageRequest,
} from '../../shared/rpc';
import type { GatewayRequests } from '../presentation/usagePanelData';
import { parseStatus } from './statusSchema';
import type { TeamGatewayHttp } from './teamHttp';

/** What a local gateway answers and a team gateway's HTTP API does not (yet), and where to do it instead. */
const NOT_OVER_HTTP: Record<string, string> = {
  'creditgate/listPlans': 'Choosing a plan on a team gateway is per seat: `creditgate seat plan NAME PLAN` where the gateway runs.',
  'creditgate/issueToken': 'Tokens for a team gateway are issued where it runs: `creditgate seat add NAME` or `creditgate token --seat SEAT`.',
  'creditgate/setUpstreamKey': 'Upstream keys live only where the team gateway runs.',
  'creditgate/info': 'A team gateway is not a process of this editor.',
};

/** The most usage rows an export reads, page by page (the gateway serves at most 10,000 a page). */
const MAX_EXPORT_ROWS = 500_000;

export class TeamRequests implements GatewayRequests {
  constructor(private readonly http: TeamGatewayHttp) {}

  request<R>(type: RequestType0<R, void>): Promise<R> {
    return this.call(type.method, undefined) as Promise<R>;
  }

  requestWith<P, R>(type: RequestType<P, R, void>, params: P): Promise<R> {
    return this.call(type.method, params) as Promise<R>;
  }

  private async call(method: string, params: unknown): Promise<unknown> {
    switch (method) {
      case StatusRequest.method:
        return parseStatus((await this.http.getJson('/creditgate/v1/status')).body);
      case UsageRequest.method:
        return this.usage(params as UsageQuery);
      case ListCreditsRequest.method:
        return (await this.http.getJson('/creditgate/v1/credits')).body;
      case RateCardRequest.method: {
        const card = (await this.http.getJson('/creditgate/v1/rate-card')).body as RateCard;
        return { version: card.version, creditUsd: card.creditUsd, packs: card.packs } satisfies RateCardSummary;
      }
      case BalanceHistoryRequest.method:
        return this.balanceHistory(params as BalanceHistoryParams);
      case PaymentOptionsRequest.method:
        return (await this.http.getJson('/creditgate/v1/purchases/options')).body;
      case StartPurchaseRequest.method:
        return this.http.postJson('/creditgate/v1/purchases', params);
      case PurchaseRequest.method:
        return (await this.http.getJson(`/creditgate/v1/purchases/${encodeURIComponent((params as { id: string }).id)}`)).body;
      case AddCreditsRpc.method:
        return this.change('/creditgate/v1/credits', params);
      case ResetWindowsRequest.method:
        return this.change('/creditgate/v1/windows/reset', {});
      case SetPlanRequest.method:
        return this.change('/creditgate/v1/plan', params);
      case SetAutoUseCreditsRequest.method:
        return this.change('/creditgate/v1/settings', { autoUseCredits: (params as { on: boolean }).on });
      case SetAutoReloadRequest.method:
        return this.change('/creditgate/v1/settings', { autoReload: params });
      default:
        throw new Error(NOT_OVER_HTTP[method] ?? `"${method}" is not available on a team gateway.`);
    }
  }

  private async change(path: string, body: unknown): Promise<Status> {
    return parseStatus(await this.http.postJson(path, body));
  }

  private async usage(query: UsageQuery): Promise<UsageResult> {
    const params = new URLSearchParams();
    if (query.since !== undefined) params.set('since', query.since);
    if (query.until !== undefined) params.set('until', query.until);
    if (query.groupBy !== undefined) {
      params.set('groupBy', query.groupBy);
      return { kind: 'groups', groups: (await this.http.getJson(`/creditgate/v1/usage?${params}`)).body as UsageGroup[] };
    }
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.beforeId !== undefined) params.set('before', String(query.beforeId));
    // Pages come newest first, each oldest first inside; `Link: rel="next"` leads to the older one.
    const pages: UsageRow[][] = [];
    let next: string | null = `/creditgate/v1/usage?${params}`;
    let count = 0;
    while (next !== null && count < (query.limit ?? MAX_EXPORT_ROWS)) {
      const { body, headers }: { body: unknown; headers: Headers } = await this.http.getJson(next);
      const rows = body as UsageRow[];
      pages.unshift(rows);
      count += rows.length;
      next = query.limit === undefined ? nextPage(headers.get('link')) : null;
    }
    return { kind: 'rows', rows: pages.flat() };
  }

  /** The pool's balance over time, from the team gateway's credit log. */
  private async balanceHistory(query: BalanceHistoryParams): Promise<BalancePoint[]> {
    const params = new URLSearchParams();
    if (query.since !== undefined) params.set('since', query.since);
    if (query.timeZone !== undefined) params.set('timeZone', query.timeZone);
    return (await this.http.getJson(`/creditgate/v1/credits/history?${params}`)).body as BalancePoint[];
  }
}

/** The path of a `Link: <…>; rel="next"` header, or null. */
function nextPage(link: string | null): string | null {
  const match = link ? /<([^>]+)>;\s*rel="next"/.exec(link) : null;
  return match?.[1] ?? null;
}
