/**
 * Loads what the Usage panel shows for a view through the gateway's JSON-RPC: the usage of each local
 * day of the range split by model, client or feature, the balance history and the grants. It knows the
 * RPC only (shared/rpc.ts), never the ledger; the gateway is any object that sends typed requests.
 */
import type { RequestType, RequestType0 } from 'vscode-languageserver-protocol';
import type { Status, UsageGroup, UsageRow } from '../../shared/protocol';
import type { BalancePoint } from '../../shared/rpc';
import { BalanceHistoryRequest, ListCreditsRequest, UsageRequest } from '../../shared/rpc';
import type { PanelData, PanelView } from '../webview/messages';
import type { DayBucket } from './usageChart';
import { dayBuckets, usageChart } from './usageChart';

export interface GatewayRequests {
  request<R>(type: RequestType0<R, void>): Promise<R>;
  requestWith<P, R>(type: RequestType<P, R, void>, params: P): Promise<R>;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export class UsagePanelData {
  /** The balance history replays the whole ledger: fetched again only when the balance or the range moved. */
  private balanceCache: { key: string; points: BalancePoint[] } | null = null;

  constructor(
    private readonly gateway: GatewayRequests,
    private readonly timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone,
  ) {}

  async load(view: PanelView, status: Status | null, now: number): Promise<PanelData> {
    const days = dayBuckets(view.rangeDays, now);
    const [groupsPerDay, balance, grants] = await Promise.all([
      Promise.all(days.map((day) => this.dayGroups(day, view))),
      this.balanceHistory(days[0]!.start, status, now),
      this.gateway.request(ListCreditsRequest),
    ]);
    return { view, usage: usageChart(days, groupsPerDay), balance, grants: [...grants].reverse() };
  }

  /** Every usage row of the view's range, oldest first (for the CSV export). */
  async rows(view: PanelView, now: number): Promise<UsageRow[]> {
    const since = dayBuckets(view.rangeDays, now)[0]!.start;
    const result = await this.gateway.requestWith(UsageRequest, { since: iso(since) });
    return result.kind === 'rows' ? result.rows : [];
  }

  private async dayGroups(day: DayBucket, view: PanelView): Promise<UsageGroup[]> {
    const result = await this.gateway.requestWith(UsageRequest, { since: iso(day.start), until: iso(day.end), groupBy: view.split });
    return result.kind === 'groups' ? result.groups : [];
  }

  private async balanceHistory(since: number, status: Status | null, now: number): Promise<BalancePoint[]> {
    // Only a grant, a credit charge or an expiry moves the balance, and each of them changes it.
    const key = status ? `${since}|${status.credits.balance}` : null;
    if (key !== null && this.balanceCache?.key === key) return withNow(this.balanceCache.points, now);
    const points = await this.gateway.requestWith(BalanceHistoryRequest, { since: iso(since), timeZone: this.timeZone });
    this.balanceCache = key === null ? null : { key, points };
    return points;
  }
}

/** The cached history with its closing `now` point moved to the present. */
function withNow(points: BalancePoint[], now: number): BalancePoint[] {
  const last = points.at(-1);
  return last?.event === 'now' ? [...points.slice(0, -1), { ...last, ts: iso(Math.max(now, Date.parse(last.ts))) }] : points;
}
