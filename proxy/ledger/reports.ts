/**
 * Read-only queries for the usage views, the grants list, the audit trail and the estimator. They run
 * off the hot path; time ranges are rowid ranges, found by binary search.
 */
import type { Database, Statement } from 'better-sqlite3';
import { microToCredits } from '../../shared/money';
import type { GrantRow, GrantSource, UsageGroup, UsageGroupKey, UsageQuery, UsageRow } from '../../shared/protocol';
import type { EstimateReason } from '../../shared/usage';
import type { BooksFigures, RawBooks } from './books';
import { booksSql, toBooksFigures } from './books';
import type { CreditLog, CreditLogSql, MovementKind } from './creditLog';
import { movementsSql, openingSql, toMovement } from './creditLog';
import { LedgerError } from './errors';
import type { UsageTailRow } from './rows';
import type { BurnSecond } from './recentUsage';
import { TAIL_COLUMNS } from './store';

export interface AuditRow {
  id: number;
  ts: string;
  actor: string;
  action: string;
  detail: Record<string, unknown>;
}

export interface RawUsage {
  id: number;
  ts: number;
  client: string;
  feature: string;
  model: string;
  route: string;
  status: number;
  input_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cost: number;
  plan_cost: number;
  credit_cost: number;
  estimated: number;
  reason: EstimateReason | null;
  unpriced: number;
}

/** A usage group as both stores' queries name its columns. */
export interface RawGroup {
  key: string;
  requests: number;
  cost: number;
  input_tokens: number;
  output_tokens: number;
}

/** A grant row as both stores' queries name its columns. */
export interface RawGrant {
  id: number;
  ts: number;
  source: GrantSource;
  amount: number;
  remaining: number;
  expires_at: number | null;
  idempotency_key: string | null;
}

/** SQL for each group key; `day` is the UTC calendar day. Fixed strings, never user input. */
const GROUP_EXPRESSIONS: Readonly<Record<UsageGroupKey, string>> = {
  day: "strftime('%Y-%m-%d', ts / 1000, 'unixepoch')",
  model: 'model',
  client: 'client',
  feature: 'feature',
};

/** The credit log query's parameters; `fromId` is the first usage row at or after `since`. */
interface LogParams {
  since: number;
  now: number;
  fromId: number;
}

/** Time ranges become id ranges (usage ts never decreases along id; see schema.ts). */
const USAGE_RANGE = 'id >= ? AND id < ?';
const NO_LIMIT = -1;

export class Reports {
  private readonly rowsStmt: Statement<[number, number, number], RawUsage>;
  private readonly oldestRowsStmt: Statement<[number, number, number], RawUsage>;
  private readonly groupStmts: Record<UsageGroupKey, Statement<[number, number, number], RawGroup>>;
  private readonly grantsStmt: Statement<[], RawGrant>;
  private readonly auditStmt: Statement<[number], { id: number; ts: number; actor: string; action: string; detail: string }>;
  private readonly newestStmt: Statement<[number], UsageTailRow>;
  private readonly burnStmt: Statement<[number], BurnSecond>;
  private readonly firstRowFromStmt: Statement<[number], { id: number; ts: number }>;
  private readonly maxIdStmt: Statement<[], number | null>;
  private readonly booksStmt: Statement<[], RawBooks>;
  private readonly movementsStmt: Statement<[LogParams], { ts: number; change: number; kind: MovementKind }>;
  private readonly openingStmt: Statement<[LogParams], number>;

  constructor(db: Database) {
    // Newest `limit` rows of the range, returned oldest first.
    this.rowsStmt = db.prepare(
      `SELECT * FROM (SELECT * FROM usage WHERE ${USAGE_RANGE} ORDER BY id DESC LIMIT ?) ORDER BY id`,
    );
    this.oldestRowsStmt = db.prepare(`SELECT * FROM usage WHERE ${USAGE_RANGE} ORDER BY id LIMIT ?`);
    const group = (key: UsageGroupKey): Statement<[number, number, number], RawGroup> =>
      db.prepare(
        `SELECT ${GROUP_EXPRESSIONS[key]} AS key, count(*) AS requests, sum(cost) AS cost,
         sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens
         FROM usage WHERE ${USAGE_RANGE} GROUP BY 1 ORDER BY ${key === 'day' ? 'key' : 'cost DESC, key'} LIMIT ?`,
      );
    this.groupStmts = { day: group('day'), model: group('model'), client: group('client'), feature: group('feature') };
    this.grantsStmt = db.prepare('SELECT * FROM grants ORDER BY id');
    this.auditStmt = db.prepare('SELECT * FROM (SELECT * FROM audit ORDER BY id DESC LIMIT ?) ORDER BY id');
    this.newestStmt = db.prepare(`SELECT * FROM (SELECT ${TAIL_COLUMNS} FROM usage ORDER BY id DESC LIMIT ?) ORDER BY id`);
    this.burnStmt = db.prepare(`SELECT ts / 1000 AS second, sum(plan_cost) AS planCost FROM usage WHERE id >= ? AND plan_cost <> 0 GROUP BY 1 ORDER BY 1`);
    this.firstRowFromStmt = db.prepare('SELECT id, ts FROM usage WHERE id >= ? ORDER BY id LIMIT 1');
    this.maxIdStmt = db.prepare<[], number | null>('SELECT max(id) FROM usage').pluck();
    const log: CreditLogSql = { since: '@since', now: '@now', usageFrom: 'id >= @fromId', usageBefore: 'id < @fromId' };
    this.movementsStmt = db.prepare(movementsSql(log));
    this.openingStmt = db.prepare<[LogParams], number>(openingSql(log)).pluck();
    // The stored balance less the usage rows every reader folds into it (fold.ts).
    this.booksStmt = db.prepare(
      booksSql(`(SELECT balance FROM account WHERE id = 1)
        - (SELECT coalesce(sum(credit_cost), 0) FROM usage WHERE id > (SELECT totals_usage_id FROM account WHERE id = 1))`),
    );
  }

  usageRows(q: UsageQuery): UsageRow[] {
    const [fromId, toId] = this.idRange(q);
    const statement = q.oldestFirst ? this.oldestRowsStmt : this.rowsStmt;
    return statement.all(fromId, toId, q.limit ?? NO_LIMIT).map(toUsageRow);
  }

  usageGroups(q: UsageQuery & { groupBy: UsageGroupKey }): UsageGroup[] {
    const statement = this.groupStmts[q.groupBy];
    if (!statement) throw new LedgerError('invalid_argument', `unknown groupBy: ${String(q.groupBy)}`);
    const [fromId, toId] = this.idRange(q);
    return statement.all(fromId, toId, q.limit ?? NO_LIMIT).map(toUsageGroup);
  }

  grants(): GrantRow[] {
    return this.grantsStmt.all().map(toGrantRow);
  }

  audit(limit: number): AuditRow[] {
    return this.auditStmt.all(limit).map((a) => toAuditRow({ ...a, detail: JSON.parse(a.detail) as Record<string, unknown> }));
  }

  /** The balance's movements since `since` (creditLog.ts); call inside a read transaction for one snapshot. */
  creditLog(since: number, now: number): CreditLog {
    const params: LogParams = { since, now, fromId: since <= 0 ? 0 : this.firstIdAtOrAfter(since) };
    return { asOf: now, opening: this.openingStmt.get(params)!, movements: this.movementsStmt.all(params).map(toMovement) };
  }

  /** The books' totals against their rows (books.ts), in one snapshot. */
  books(): BooksFigures {
    return toBooksFigures(this.booksStmt.get()!);
  }

  /** The newest `count` usage rows, oldest first. */
  newestUsage(count: number): UsageTailRow[] {
    return this.newestStmt.all(count);
  }

  /** Plan costs of the rows stamped at or after `ts`, summed per second, oldest first (RecentUsage's burn window). */
  planBurnSince(ts: number): BurnSecond[] {
    return this.burnStmt.all(this.firstIdAtOrAfter(ts));
  }

  /**
   * The id of the first usage row stamped at or after `ts` (max id + 1 when there is none): a binary
   * search over rowids, about 20 point reads for a million rows.
   */
  private firstIdAtOrAfter(ts: number): number {
    let low = 1;
    let high = (this.maxIdStmt.get() ?? 0) + 1;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      const row = this.firstRowFromStmt.get(middle);
      if (!row || row.ts >= ts) high = middle;
      else low = row.id + 1;
    }
    return low;
  }

  private idRange(q: UsageQuery): [number, number] {
    const since = parseBound(q.since, 'since');
    const until = parseBound(q.until, 'until');
    const fromId = since === null ? 0 : this.firstIdAtOrAfter(since);
    const toId = until === null ? Number.MAX_SAFE_INTEGER : this.firstIdAtOrAfter(until);
    // Page cursors narrow the range further (both bounds exclusive).
    return [q.afterId === undefined ? fromId : Math.max(fromId, q.afterId + 1), q.beforeId === undefined ? toId : Math.min(toId, q.beforeId)];
  }
}

export function parseBound(text: string | undefined, name: string): number | null {
  if (text === undefined) return null;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new LedgerError('invalid_argument', `${name} is not an ISO-8601 date: ${text}`);
  return ms;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function toUsageGroup(g: RawGroup): UsageGroup {
  return { key: g.key, requests: g.requests, cost: microToCredits(g.cost), inputTokens: g.input_tokens, outputTokens: g.output_tokens };
}

export function toGrantRow(g: RawGrant): GrantRow {
  return {
    id: g.id,
    ts: iso(g.ts),
    source: g.source,
    amount: microToCredits(g.amount),
    remaining: microToCredits(g.remaining),
    expiresAt: g.expires_at === null ? null : iso(g.expires_at),
    idempotencyKey: g.idempotency_key,
  };
}

/** An audit row with its detail already parsed (SQLite keeps it as text, PostgreSQL as jsonb). */
export function toAuditRow(a: { id: number; ts: number; actor: string; action: string; detail: Record<string, unknown> }): AuditRow {
  return { id: a.id, ts: iso(a.ts), actor: a.actor, action: a.action, detail: a.detail };
}

export function toUsageRow(r: RawUsage): UsageRow {
  return {
    id: r.id,
    ts: iso(r.ts),
    client: r.client,
    feature: r.feature,
    model: r.model,
    route: r.route,
    status: r.status,
    inputTokens: r.input_tokens,
    cachedInputTokens: r.cached_input_tokens,
    cacheWriteTokens: r.cache_write_tokens,
    outputTokens: r.output_tokens,
    reasoningTokens: r.reasoning_tokens,
    cost: microToCredits(r.cost),
    planCost: microToCredits(r.plan_cost),
    creditCost: microToCredits(r.credit_cost),
    estimated: r.estimated === 1,
    reason: r.reason,
    unpriced: r.unpriced === 1,
  };
}
