/**
 * The second round trip of a write transaction: everything the rules changed (snapshotTx.ts Changes)
 * and the account row, then COMMIT, in one query. Rows go in as JSON documents expanded by
 * jsonb_populate_recordset, one statement per table, whatever the number of operations the
 * transaction grouped.
 */
import type { AccountRow, HoldRow, NewUsage } from '../rows';
import type { SeatState } from './load';
import type { Changes } from './snapshotTx';
import { int, intList, intOrNull, jsonb, text } from './sqlText';

/**
 * Commit, then wait until the commit is on disk, without holding the account row's lock while the
 * disk flushes. Every writer locks that row, so a commit that fsyncs under it makes the flush the
 * ledger's bottleneck: one fsync per transaction, one transaction at a time. Instead the transaction
 * commits without waiting for its WAL flush (the lock is released as soon as its commit record is
 * written) and the same query then commits a transaction that writes no row and does wait: WAL is flushed in
 * order, so when that second commit returns, the first is durable too, and only then does any caller
 * hear its result. Later transactions may read the first one's rows before they are on disk; if the
 * server dies before the flush, they are lost with it (their commit records come later in the WAL),
 * and none of them was acknowledged either. Concurrent waits share one fsync (PostgreSQL's group
 * commit), which the row lock made impossible.
 */
const DURABLE_COMMIT = [
  'SET LOCAL synchronous_commit = off',
  'COMMIT',
  // A transaction that wrote WAL commits synchronously: it waits for the flush up to its own commit
  // record. A transactional logical message is the smallest WAL write there is, and it locks no row.
  'BEGIN',
  "SELECT pg_logical_emit_message(true, 'creditgate', 'durable')",
  'COMMIT',
];

export function flushSql(changes: Changes, a: AccountRow, seats: ReadonlyMap<string, SeatState>): string {
  const statements: string[] = [];
  const rows = (table: string, docs: object[]): string => `jsonb_populate_recordset(NULL::${table}, ${jsonb(docs)})`;
  if (changes.insertedHolds.length > 0) statements.push(`INSERT INTO holds SELECT * FROM ${rows('holds', changes.insertedHolds.map(holdDoc))}`);
  if (changes.deletedHolds.length > 0) statements.push(`DELETE FROM holds WHERE id IN (${intList(changes.deletedHolds)})`);
  if (changes.voidedHolds.length > 0) {
    const docs = changes.voidedHolds.map((h) => ({ ...holdDoc(h), voided_at: h.voidedAt }));
    statements.push(`INSERT INTO voided_holds SELECT * FROM ${rows('voided_holds', docs)}`);
  }
  if (changes.insertedPeriods.length > 0) {
    const docs = changes.insertedPeriods.map((p) => ({
      id: p.id, seat: p.seat, name: p.name, started_at: p.startedAt, ends_at: p.endsAt, closed_at: p.closedAt, close_reason: p.closeReason, used: p.used,
    }));
    statements.push(`INSERT INTO window_periods SELECT * FROM ${rows('window_periods', docs)}`);
  }
  if (changes.closedPeriods.length > 0) {
    const docs = changes.closedPeriods.map((p) => ({ id: p.id, closed_at: p.closedAt, close_reason: p.closeReason, used: p.used }));
    statements.push(
      `UPDATE window_periods p SET closed_at = v.closed_at, close_reason = v.close_reason, used = v.used
       FROM ${rows('window_periods', docs)} v WHERE p.id = v.id`,
    );
  }
  if (changes.insertedGrants.length > 0) {
    const docs = changes.insertedGrants.map((g) => ({
      id: g.id, ts: g.ts, source: g.source, amount: g.amount, remaining: g.remaining, expires_at: g.expiresAt,
      spend_order: g.spendOrder, idempotency_key: g.idempotencyKey, spent_at: g.spentAt, refunded: g.refunded,
    }));
    statements.push(`INSERT INTO grants SELECT * FROM ${rows('grants', docs)}`);
  }
  if (changes.spentGrants.length > 0) {
    const docs = changes.spentGrants.map((g) => ({ id: g.id, remaining: g.remaining, spent_at: g.spentAt }));
    statements.push(`UPDATE grants g SET remaining = v.remaining, spent_at = v.spent_at FROM ${rows('grants', docs)} v WHERE g.id = v.id`);
  }
  if (changes.refundedGrants.length > 0) {
    statements.push(`UPDATE grants g SET refunded = g.refunded + v.refunded FROM ${rows('grants', changes.refundedGrants)} v WHERE g.id = v.id`);
  }
  if (changes.refunds.length > 0) {
    const docs = changes.refunds.map((r) => ({ id: r.id, ts: r.ts, grant_id: r.grantId, amount: r.amount, idempotency_key: r.idempotencyKey }));
    statements.push(`INSERT INTO refunds SELECT * FROM ${rows('refunds', docs)}`);
  }
  // Usage after grants and holds: a charge's row refers to both only by id, but reads best in this order.
  if (changes.usage.length > 0) statements.push(`INSERT INTO usage SELECT * FROM ${rows('usage', changes.usage.map(usageDoc))}`);
  if (changes.creditEvents.length > 0) {
    const docs = changes.creditEvents.map((e) => ({
      ts: e.ts, kind: e.kind, amount: e.amount, grant_id: e.grantId, usage_id: e.usageId, refund_id: e.refundId,
    }));
    statements.push(`INSERT INTO credit_events (ts, kind, amount, grant_id, usage_id, refund_id)
       SELECT ts, kind, amount, grant_id, usage_id, refund_id FROM ${rows('credit_events', docs)}`);
  }
  if (changes.audit.length > 0) {
    const docs = changes.audit.map((e) => ({ ts: e.ts, actor: e.actor, action: e.action, detail: e.detail }));
    statements.push(`INSERT INTO audit (ts, actor, action, detail) SELECT ts, actor, action, detail FROM ${rows('audit', docs)}`);
  }
  if (seats.size > 0) statements.push(seatsUpdate(seats));
  statements.push(accountUpdate(a, changes));
  statements.push(...DURABLE_COMMIT);
  return statements.join(';\n');
}

function accountUpdate(a: AccountRow, c: Changes): string {
  const mark = a.clockMark;
  return `UPDATE account SET
    auto_reload = ${jsonb(a.autoReload)}, balance = ${int(a.balance)}, debt = ${int(a.debt)}, last_hold_id = ${int(a.lastHoldId)},
    last_usage_id = ${int(c.lastUsageId)}, last_period_id = ${int(c.lastPeriodId)}, last_grant_id = ${int(c.lastGrantId)},
    last_refund_id = ${int(c.lastRefundId)},
    next_expiry = ${intOrNull(a.nextExpiry)}, last_usage_ts = ${int(a.lastUsageTs)},
    clock_time = ${intOrNull(mark?.time ?? null)}, clock_mono = ${intOrNull(mark?.mono ?? null)},
    clock_domain = ${mark ? text(mark.domain) : 'NULL'}, revision = revision + 1
    WHERE id = 1`;
}

/** The plans, settings and windows of the seats the transaction acted for. */
function seatsUpdate(seats: ReadonlyMap<string, SeatState>): string {
  const docs = [...seats].map(([name, seat]) => {
    const five = seat.periods['5h'];
    const week = seat.periods.weekly;
    return {
      name,
      plan: seat.plan,
      continue_on_pool: seat.autoUseCredits,
      five_hour_period: five?.id ?? null,
      five_hour_ends: five?.endsAt ?? null,
      five_hour_used: five?.used ?? 0,
      five_hour_from: five?.measuredFrom ?? null,
      weekly_period: week?.id ?? null,
      weekly_ends: week?.endsAt ?? null,
      weekly_used: week?.used ?? 0,
      weekly_from: week?.measuredFrom ?? null,
      weekly_cap: seat.creditCap?.cap ?? null,
      cap_used: seat.creditCap?.used ?? 0,
      cap_week_start: seat.creditCap?.weekStart ?? null,
    };
  });
  return `UPDATE seats s SET plan = v.plan, continue_on_pool = v.continue_on_pool,
      five_hour_period = v.five_hour_period, five_hour_ends = v.five_hour_ends, five_hour_used = v.five_hour_used, five_hour_from = v.five_hour_from,
      weekly_period = v.weekly_period, weekly_ends = v.weekly_ends, weekly_used = v.weekly_used, weekly_from = v.weekly_from,
      weekly_cap = v.weekly_cap, cap_used = v.cap_used, cap_week_start = v.cap_week_start
    FROM jsonb_populate_recordset(NULL::seats, ${jsonb(docs)}) v WHERE s.name = v.name`;
}

function holdDoc(h: HoldRow): object {
  return {
    id: h.id, ts: h.ts, request_id: h.requestId, client: h.client, model: h.model, route: h.route, feature: h.feature,
    kind: h.kind, estimate: h.estimate, owner_pid: h.ownerPid, owner_instance: h.ownerInstance, seat: h.seat,
  };
}

function usageDoc(u: NewUsage & { id: number }): object {
  const m = u.usage;
  return {
    id: u.id, ts: u.ts, hold_id: u.hold.id, request_id: u.hold.requestId, client: u.hold.client, feature: u.hold.feature,
    model: u.model, route: u.hold.route, status: u.status, input_tokens: m.inputTokens, cached_input_tokens: m.cachedInputTokens,
    cache_write_tokens: m.cacheWriteTokens, output_tokens: m.outputTokens, reasoning_tokens: m.reasoningTokens,
    cost: u.cost, plan_cost: u.planCost, credit_cost: u.creditCost, estimated: u.estimated, reason: u.reason, unpriced: u.unpriced,
    seat: u.hold.seat,
  };
}
