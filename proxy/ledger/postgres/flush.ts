/**
 * The end of a write transaction: everything the rules changed (snapshotTx.ts Changes) and the account
 * row, then COMMIT, in one query. The rows go in as one JSON document to creditgate_commit
 * (commitFunction.ts), which applies it with creditgate_flush (one statement per kind of change,
 * whatever the number of operations the transaction grouped, planned once per connection) only while
 * the account row is in the state the rules ran on. The kinds of row a busy batch has many of (holds,
 * usage, allocation rows) go in as a base row and each row's differences from it, which shrinks the
 * document a few times over (writePathSchema.ts says why that matters).
 */
import type { AccountRow, HoldRow, NewUsage } from '../rows';
import type { SeatState } from './load';
import type { Changes } from './snapshotTx';
import { int, jsonb, safeInteger as whole, textOrNull } from './sqlText';

/**
 * Commit, then wait until the commit is on disk, without holding the account row's lock while the
 * disk flushes. Every writer locks that row, so a commit that fsyncs under it makes the flush the
 * ledger's bottleneck: one fsync per transaction, one transaction at a time. Instead the transaction
 * commits without waiting for its WAL flush (creditgate_commit turns synchronous_commit off for it, so
 * the lock is released as soon as its commit record is written) and the same query then runs a
 * transaction that writes no row and does wait: WAL is flushed in order, so when that second commit
 * returns, the first is durable too, and only then does any caller hear its result. Later
 * transactions may read the first one's rows before they are on disk; if the server dies before the
 * flush, they are lost with it (their commit records come later in the WAL), and none of them was
 * acknowledged either. Concurrent waits share one fsync (PostgreSQL's group commit), which the row
 * lock made impossible.
 *
 * The second transaction is the query's last statement, outside any BEGIN: the server runs it in a
 * transaction of its own and commits it, synchronously, before the query returns. A transaction that
 * wrote WAL waits for the flush up to its own commit record; a transactional logical message is the
 * smallest WAL write there is, and it locks no row.
 */
const DURABLE_COMMIT = "COMMIT;\nSELECT pg_logical_emit_message(true, 'creditgate', 'durable')";

/** The state a commit expects the account row in (load.ts RawAccount), and the id it writes there. */
export interface CommitIds {
  revision: number;
  commitId: string | null;
  next: string;
}

/**
 * How a transaction ends: `loaded`, in the transaction load.ts loadSql began (the lock released before
 * the WAL flush, the durable commit after it); or `alone`, the one round trip of writeCache.ts, one
 * statement committed synchronously, holding the lock through the WAL flush, which delays no one while
 * this instance is the only writer (another writer sends it back to loads for a while), and saves a
 * transaction and two statements.
 */
export type CommitMode = 'loaded' | 'alone';

/**
 * The query that ends a transaction. Its first result has one row that says whether the changes were
 * applied: false when the account row is no longer in the state expected, and then nothing was written.
 */
export function commitSql(
  ids: CommitIds,
  changes: Changes,
  a: AccountRow,
  seats: ReadonlyMap<string, SeatState>,
  mode: CommitMode,
  started: ReadonlyMap<string, SeatState>,
): string {
  const doc = jsonb(flushDoc(changes, a, seats, started, ids.next));
  const commit = `SELECT creditgate_commit(${int(ids.revision)}, ${textOrNull(ids.commitId)}, ${doc}, ${mode === 'alone' ? 'TRUE' : 'FALSE'}) AS applied`;
  return mode === 'alone' ? commit : `${commit};\n${DURABLE_COMMIT}`;
}

/** creditgate_flush's document. */
function flushDoc(changes: Changes, a: AccountRow, seats: ReadonlyMap<string, SeatState>, started: ReadonlyMap<string, SeatState>, commitId: string): Record<string, unknown> {
  // Only the kinds of change the transaction made: creditgate_flush skips the absent keys.
  const doc: Record<string, unknown> = {};
  const put = (key: string, docs: unknown[]): void => {
    if (docs.length > 0) doc[key] = docs;
  };
  // The kinds a busy batch has many rows of: sent as a base row and each row's differences from it.
  const bases: Record<string, RowDoc> = {};
  const putRows = (key: string, docs: RowDoc[]): void => {
    if (docs.length === 0) return;
    if (docs.length === 1) return put(key, docs);
    const base = docs[0]!;
    bases[key] = base;
    doc[key] = docs.map((row) => differences(row, base));
  };
  putRows('insertedHolds', changes.insertedHolds.map(holdDoc));
  put('deletedHolds', changes.deletedHolds.map(whole));
  putRows('voidedHolds', changes.voidedHolds.map((h) => ({ ...holdDoc(h), voided_at: h.voidedAt })));
  put('insertedPeriods', changes.insertedPeriods.map((p) => ({
    id: p.id, seat: p.seat, name: p.name, started_at: p.startedAt, ends_at: p.endsAt, closed_at: p.closedAt, close_reason: p.closeReason, used: p.used,
  })));
  put('closedPeriods', changes.closedPeriods.map((p) => ({ id: p.id, closed_at: p.closedAt, close_reason: p.closeReason, used: p.used })));
  put('insertedGrants', changes.insertedGrants.map((g) => ({
    id: g.id, ts: g.ts, source: g.source, amount: g.amount, remaining: g.remaining, expires_at: g.expiresAt,
    spend_order: g.spendOrder, idempotency_key: g.idempotencyKey, spent_at: g.spentAt, refunded: g.refunded,
  })));
  put('spentGrants', changes.spentGrants.map((g) => ({ id: g.id, remaining: g.remaining, spent_at: g.spentAt })));
  put('refundedGrants', changes.refundedGrants);
  put('refunds', changes.refunds.map((r) => ({ id: r.id, ts: r.ts, grant_id: r.grantId, amount: r.amount, idempotency_key: r.idempotencyKey })));
  putRows('usage', changes.usage.map(usageDoc));
  putRows('creditEvents', changes.creditEvents.map((e) => ({ ts: e.ts, kind: e.kind, amount: e.amount, grant_id: e.grantId, usage_id: e.usageId, refund_id: e.refundId })));
  put('audit', changes.audit.map((e) => ({ ts: e.ts, actor: e.actor, action: e.action, detail: e.detail })));
  put('seats', changedSeats(seats, started));
  doc.account = accountDoc(a, changes, commitId);
  if (Object.keys(bases).length > 0) doc.base = bases;
  return doc;
}

/** A row of a commit's document: its columns' values, none of them objects (undefined: NULL, as JSON leaves it out). */
type RowDoc = Record<string, string | number | boolean | null | undefined>;

/** The columns of `row` whose values are not `base`'s (the base row itself: none). */
function differences(row: RowDoc, base: RowDoc): RowDoc {
  if (row === base) return {};
  const different: RowDoc = {};
  // A value left out would be the base's: one that is not there is sent as null.
  for (const key in row) if (row[key] !== base[key]) different[key] = row[key] ?? null;
  return different;
}

/** The account row's new totals and the commit's id (its revision is bumped by creditgate_flush). */
function accountDoc(a: AccountRow, c: Changes, commitId: string): object {
  const mark = a.clockMark;
  return {
    auto_reload: a.autoReload, balance: whole(a.balance), debt: whole(a.debt), last_hold_id: whole(a.lastHoldId),
    last_usage_id: whole(c.lastUsageId), last_period_id: whole(c.lastPeriodId), last_grant_id: whole(c.lastGrantId),
    last_refund_id: whole(c.lastRefundId), next_expiry: a.nextExpiry, last_usage_ts: whole(a.lastUsageTs),
    clock_time: mark?.time ?? null, clock_mono: mark?.mono ?? null, clock_domain: mark?.domain ?? null, commit_id: commitId,
  };
}

/**
 * The rows of the seats the transaction changed: an admission on a window leaves its seat's row as it
 * was (what it holds is in held_totals), and an UPDATE that changes nothing still writes a row version.
 */
function changedSeats(seats: ReadonlyMap<string, SeatState>, started: ReadonlyMap<string, SeatState>): object[] {
  const docs: object[] = [];
  for (const [name, seat] of seats) {
    const doc = seatDoc(name, seat);
    const before = started.get(name);
    if (!before || !sameRow(seatDoc(name, before), doc)) docs.push(doc);
  }
  return docs;
}

/** Whether two rows of a table hold the same values, column for column (each value a scalar). */
function sameRow(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  for (const column in a) if (a[column] !== b[column]) return false;
  return true;
}

/** A seat's stored row: its plan, settings and windows. */
function seatDoc(name: string, seat: SeatState): Record<string, unknown> {
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
}

function holdDoc(h: HoldRow): RowDoc {
  return {
    id: h.id, ts: h.ts, request_id: h.requestId, client: h.client, model: h.model, route: h.route, feature: h.feature,
    kind: h.kind, estimate: h.estimate, owner_pid: h.ownerPid, owner_instance: h.ownerInstance, seat: h.seat,
  };
}

function usageDoc(u: NewUsage & { id: number }): RowDoc {
  const m = u.usage;
  return {
    id: u.id, ts: u.ts, hold_id: u.hold.id, request_id: u.hold.requestId, client: u.hold.client, feature: u.hold.feature,
    model: u.model, route: u.hold.route, status: u.status, input_tokens: m.inputTokens, cached_input_tokens: m.cachedInputTokens,
    cache_write_tokens: m.cacheWriteTokens, output_tokens: m.outputTokens, reasoning_tokens: m.reasoningTokens,
    cost: u.cost, plan_cost: u.planCost, credit_cost: u.creditCost, estimated: u.estimated, reason: u.reason, unpriced: u.unpriced,
    seat: u.hold.seat,
  };
}
