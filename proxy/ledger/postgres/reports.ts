/** The read-only queries of the PostgreSQL ledger (the usage views, the grants list, the audit trail). */
import type pg from 'pg';
import type { GrantRow, UsageGroup, UsageGroupKey, UsageQuery, UsageRow } from '../../../shared/protocol';
import type { BooksFigures, RawBooks } from '../books';
import { booksSql, toBooksFigures } from '../books';
import type { CreditLog, CreditLogSql, MovementKind } from '../creditLog';
import { movementsSql, openingSql, toMovement } from '../creditLog';
import { LedgerError } from '../errors';
import type { AuditRow, RawGrant, RawGroup, RawUsage } from '../reports';
import { parseBound, toAuditRow, toGrantRow, toUsageGroup, toUsageRow } from '../reports';
import { WRITE_PATH_BOOKS_SQL } from './writePathSchema';

/** SQL for each group key; `day` is the UTC calendar day. Fixed strings, never user input. */
const GROUP_EXPRESSIONS: Readonly<Record<UsageGroupKey, string>> = {
  day: "to_char(to_timestamp(ts / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
  model: 'model',
  client: 'client',
  feature: 'feature',
};

const USAGE_COLUMNS = `id, ts, client, feature, model, route, status, input_tokens, cached_input_tokens, cache_write_tokens,
  output_tokens, reasoning_tokens, cost, plan_cost, credit_cost, estimated::int AS estimated, reason, unpriced::int AS unpriced`;

export class PostgresReports {
  constructor(private readonly pool: pg.Pool) {}

  async usageRows(q: UsageQuery): Promise<UsageRow[]> {
    const { where, params } = range(q);
    const limit = q.limit === undefined ? 'ALL' : '$' + (params.push(q.limit), params.length);
    const sql = q.oldestFirst
      ? `SELECT ${USAGE_COLUMNS} FROM usage WHERE ${where} ORDER BY id LIMIT ${limit}`
      : `SELECT * FROM (SELECT ${USAGE_COLUMNS} FROM usage WHERE ${where} ORDER BY id DESC LIMIT ${limit}) newest ORDER BY id`;
    const { rows } = await this.pool.query<RawUsage>(sql, params);
    return rows.map(toUsageRow);
  }

  async usageGroups(q: UsageQuery & { groupBy: UsageGroupKey }): Promise<UsageGroup[]> {
    const expression = Object.hasOwn(GROUP_EXPRESSIONS, q.groupBy) ? GROUP_EXPRESSIONS[q.groupBy] : undefined;
    if (!expression) throw new LedgerError('invalid_argument', `unknown groupBy: ${String(q.groupBy)}`);
    const { where, params } = range(q);
    const limit = q.limit === undefined ? 'ALL' : '$' + (params.push(q.limit), params.length);
    const { rows } = await this.pool.query<RawGroup>(
      `SELECT ${expression} AS key, count(*)::bigint AS requests, sum(cost)::bigint AS cost,
         sum(input_tokens)::bigint AS input_tokens, sum(output_tokens)::bigint AS output_tokens
       FROM usage WHERE ${where} GROUP BY 1 ORDER BY ${q.groupBy === 'day' ? 'key' : 'cost DESC, key'} LIMIT ${limit}`,
      params,
    );
    return rows.map(toUsageGroup);
  }

  async grants(): Promise<GrantRow[]> {
    const { rows } = await this.pool.query<RawGrant>('SELECT id, ts, source, amount, remaining, expires_at, idempotency_key FROM grants ORDER BY id');
    return rows.map(toGrantRow);
  }

  /** The pool's balance movements since `since` (creditLog.ts), in one snapshot (one statement). */
  async creditLog(since: number, now: number): Promise<CreditLog> {
    const { rows } = await this.pool.query<{ opening: string | number; movements: { ts: number; change: number; kind: MovementKind }[] }>(
      `SELECT (${openingSql(LOG_SQL)}) AS opening,
        (SELECT coalesce(json_agg(m ORDER BY m.ts, m.ord, m.id), '[]') FROM (${movementsSql(LOG_SQL)}) m) AS movements`,
      [since, now],
    );
    return { asOf: now, opening: Number(rows[0]!.opening), movements: rows[0]!.movements.map(toMovement) };
  }

  /** The books' totals against their rows (books.ts), in one snapshot (one statement). */
  async books(): Promise<BooksFigures> {
    const { rows } = await this.pool.query<RawBooks>(`SELECT b.*, ${WRITE_PATH_BOOKS_SQL} FROM (${booksSql('(SELECT balance FROM account WHERE id = 1)')}) b`);
    return toBooksFigures(rows[0]!);
  }

  async audit(limit: number): Promise<AuditRow[]> {
    const { rows } = await this.pool.query<{ id: number; ts: number; actor: string; action: string; detail: Record<string, unknown> }>(
      'SELECT * FROM (SELECT id, ts, actor, action, detail FROM audit ORDER BY id DESC LIMIT $1) newest ORDER BY id',
      [limit],
    );
    return rows.map(toAuditRow);
  }
}

const LOG_SQL: CreditLogSql = { since: '$1::bigint', now: '$2::bigint', usageFrom: 'ts >= $1::bigint', usageBefore: 'ts < $1::bigint' };

/** The query's seat, time range and page cursors as a WHERE clause with numbered parameters. */
function range(q: UsageQuery): { where: string; params: (number | string)[] } {
  const params: (number | string)[] = [];
  const clauses: string[] = ['TRUE'];
  const add = (clause: string, value: number | string): void => {
    params.push(value);
    clauses.push(clause.replace('?', `$${params.length}`));
  };
  const since = parseBound(q.since, 'since');
  const until = parseBound(q.until, 'until');
  if (since !== null) add('ts >= ?', since);
  if (until !== null) add('ts < ?', until);
  if (q.seat !== undefined) add('seat = ?', q.seat);
  if (q.afterId !== undefined) add('id > ?', q.afterId);
  if (q.beforeId !== undefined) add('id < ?', q.beforeId);
  return { where: clauses.join(' AND '), params };
}
