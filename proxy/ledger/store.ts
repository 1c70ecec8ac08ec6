/**
 * Every SQL statement the ledger runs, prepared once per connection, behind small typed methods.
 * An admit touches one page (the hold); a post two: the hold and the usage row (and a grant's row
 * when it spends credits). The account row is rewritten only when more than usage rows changed it.
 */
import type { Database, Statement } from 'better-sqlite3';
import type { Micro } from '../../shared/money';
import type { WindowName } from '../../shared/plans';
import type { AutoReloadSettings } from './autoReload';
import type {
  AccountRow, CreditEvent, ExpiringGrant, HoldRow, KeyedGrant, KeyedRefund, LedgerTx, NewGrant, NewRefund, NewUsage, Period,
  SpendableGrant, UsageTailRow,
} from './rows';
import { NO_EXPIRY_ORDER } from './schema';
import type { AuthenticatedClient, TokenRole } from './tokens';
import { storedMark, type TimeMark } from './trustedTime';

interface RawAccount {
  plan: string | null;
  auto_use_credits: number | null;
  auto_reload: string | null;
  balance: number;
  debt: number;
  credit_held: number;
  plan_held: number;
  last_hold_id: number;
  max_hold_id: number;
  next_expiry: number | null;
  last_usage_ts: number;
  five_hour_period: number | null;
  five_hour_ends: number | null;
  five_hour_used: number;
  weekly_period: number | null;
  weekly_ends: number | null;
  weekly_used: number;
  five_hour_from: number | null;
  weekly_from: number | null;
  revision: number;
  totals_usage_id: number;
  clock_time: number | null;
  clock_mono: number | null;
  clock_domain: string | null;
}

export const TAIL_COLUMNS = `id, ts, hold_id AS holdId, feature, plan_cost AS planCost, credit_cost AS creditCost, model, client,
  cost, output_tokens AS outputTokens, estimated, unpriced`;
const HOLD_COLUMNS = `id, ts, request_id AS requestId, client, model, route, feature, kind, estimate,
  owner_pid AS ownerPid, owner_instance AS ownerInstance`;

export class Store implements LedgerTx {
  private readonly selectAccount: Statement<[], RawAccount>;
  private readonly updateAccount: Statement<unknown[]>;
  private readonly updateTotals: Statement<unknown[]>;
  private readonly insertHoldStmt: Statement<unknown[]>;
  private readonly takeHoldStmt: Statement<[number], HoldRow>;
  private readonly deleteHoldStmt: Statement<[number]>;
  private readonly insertUsageStmt: Statement<unknown[]>;
  private readonly usageTailStmt: Statement<[number], UsageTailRow>;
  private readonly dataVersionStmt: Statement<[], number>;
  private readonly headGrantStmt: Statement<[], SpendableGrant>;
  private readonly spendGrantStmt: Statement<[number, number]>;
  private readonly exhaustGrantStmt: Statement<[number, number]>;
  private readonly insertCreditEventStmt: Statement<unknown[]>;
  private readonly grantByKeyStmt: Statement<[string], KeyedGrant>;
  private readonly insertGrantStmt: Statement<unknown[], { id: number }>;
  private readonly expiringGrantsStmt: Statement<[number], ExpiringGrant>;
  private readonly nextExpiryStmt: Statement<[number], number | null>;
  private readonly countKeyRangeStmt: Statement<[string, string], number>;
  private readonly insertPeriodStmt: Statement<[string, number, number], { id: number }>;
  private readonly closePeriodStmt: Statement<[number, string, number, number]>;
  private readonly pendingHoldsStmt: Statement<[], HoldRow>;
  private readonly insertVoidedHoldStmt: Statement<unknown[]>;
  private readonly grantRemainingStmt: Statement<[number], number>;
  private readonly refundByKeyStmt: Statement<[string], KeyedRefund>;
  private readonly insertRefundStmt: Statement<[number, number, number, string], { id: number }>;
  private readonly addRefundedStmt: Statement<[number, number]>;
  private readonly insertAuditStmt: Statement<[number, string, string, string]>;
  private readonly revokeTokensStmt: Statement<[number, string]>;
  private readonly insertTokenStmt: Statement<[string, string, TokenRole, number]>;
  private readonly tokenClientStmt: Statement<[string], AuthenticatedClient>;

  constructor(db: Database) {
    // Read only when another connection has committed: the open holds are few (requests in flight).
    this.selectAccount = db.prepare(
      `SELECT a.*,
         (SELECT coalesce(sum(estimate), 0) FROM holds WHERE kind = 'plan') AS plan_held,
         (SELECT coalesce(sum(estimate), 0) FROM holds WHERE kind = 'credits') AS credit_held,
         (SELECT coalesce(max(id), 0) FROM holds) AS max_hold_id
       FROM account a WHERE a.id = 1`,
    );
    this.updateAccount = db.prepare(
      `UPDATE account SET plan = ?, auto_use_credits = ?, auto_reload = ?, balance = ?, debt = ?,
       last_hold_id = ?, next_expiry = ?, last_usage_ts = ?, five_hour_period = ?, five_hour_ends = ?, five_hour_used = ?,
       weekly_period = ?, weekly_ends = ?, weekly_used = ?, five_hour_from = ?, weekly_from = ?, revision = ?,
       totals_usage_id = ?, clock_time = ?, clock_mono = ?, clock_domain = ? WHERE id = 1`,
    );
    this.updateTotals = db.prepare(
      `UPDATE account SET balance = ?, debt = ?, last_hold_id = ?, next_expiry = ?,
       last_usage_ts = ?, five_hour_used = ?, weekly_used = ?, revision = ?, totals_usage_id = ?,
       clock_time = ?, clock_mono = ?, clock_domain = ? WHERE id = 1`,
    );
    this.insertHoldStmt = db.prepare(
      `INSERT INTO holds (id, ts, request_id, client, model, route, feature, kind, estimate, owner_pid, owner_instance)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.takeHoldStmt = db.prepare(`DELETE FROM holds WHERE id = ? RETURNING ${HOLD_COLUMNS}`);
    this.deleteHoldStmt = db.prepare('DELETE FROM holds WHERE id = ?');
    this.insertUsageStmt = db.prepare(
      `INSERT INTO usage (ts, hold_id, request_id, client, feature, model, route, status, input_tokens,
       cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost, plan_cost, credit_cost,
       estimated, reason, unpriced) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.usageTailStmt = db.prepare(`SELECT ${TAIL_COLUMNS} FROM usage WHERE id > ? ORDER BY id`);
    this.dataVersionStmt = db.prepare<[], number>('PRAGMA data_version').pluck();
    this.headGrantStmt = db.prepare('SELECT id, remaining FROM grants WHERE spent_at IS NULL ORDER BY spend_order, id LIMIT 1');
    this.spendGrantStmt = db.prepare('UPDATE grants SET remaining = remaining - ? WHERE id = ?');
    this.exhaustGrantStmt = db.prepare('UPDATE grants SET remaining = 0, spent_at = ? WHERE id = ?');
    this.insertCreditEventStmt = db.prepare(
      'INSERT INTO credit_events (ts, kind, amount, grant_id, usage_id, refund_id) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.grantByKeyStmt = db.prepare('SELECT id, source, amount, expires_at AS expiresAt, refunded FROM grants WHERE idempotency_key = ?');
    this.grantRemainingStmt = db.prepare<[number], number>('SELECT remaining FROM grants WHERE id = ?').pluck();
    this.refundByKeyStmt = db.prepare('SELECT id, grant_id AS grantId, amount FROM refunds WHERE idempotency_key = ?');
    this.insertRefundStmt = db.prepare('INSERT INTO refunds (ts, grant_id, amount, idempotency_key) VALUES (?, ?, ?, ?) RETURNING id');
    this.addRefundedStmt = db.prepare('UPDATE grants SET refunded = refunded + ? WHERE id = ?');
    this.insertGrantStmt = db.prepare(
      `INSERT INTO grants (ts, source, amount, remaining, expires_at, spend_order, idempotency_key, spent_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    );
    this.expiringGrantsStmt = db.prepare(
      `SELECT id, remaining, expires_at AS expiresAt FROM grants
       WHERE spent_at IS NULL AND spend_order <= ? ORDER BY spend_order, id`,
    );
    this.nextExpiryStmt = db
      .prepare<[number], number | null>('SELECT min(spend_order) FROM grants WHERE spent_at IS NULL AND spend_order < ?')
      .pluck();
    this.countKeyRangeStmt = db
      .prepare<[string, string], number>('SELECT count(*) FROM grants WHERE idempotency_key >= ? AND idempotency_key < ?')
      .pluck();
    this.insertPeriodStmt = db.prepare('INSERT INTO window_periods (name, started_at, ends_at) VALUES (?, ?, ?) RETURNING id');
    this.closePeriodStmt = db.prepare('UPDATE window_periods SET closed_at = ?, close_reason = ?, used = ? WHERE id = ?');
    this.pendingHoldsStmt = db.prepare(`SELECT ${HOLD_COLUMNS} FROM holds ORDER BY id`);
    this.insertVoidedHoldStmt = db.prepare(
      `INSERT INTO voided_holds (id, ts, voided_at, request_id, client, model, route, feature, kind, estimate)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertAuditStmt = db.prepare('INSERT INTO audit (ts, actor, action, detail) VALUES (?, ?, ?, ?)');
    this.revokeTokensStmt = db.prepare('UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL');
    this.insertTokenStmt = db.prepare('INSERT INTO tokens (name, hash, role, created_at) VALUES (?, ?, ?, ?)');
    this.tokenClientStmt = db.prepare('SELECT name, role FROM tokens WHERE hash = ? AND revoked_at IS NULL');
  }

  // ---- account --------------------------------------------------------------------------------------

  account(): AccountRow {
    const raw = this.selectAccount.get();
    if (!raw) throw new Error('ledger account row is missing');
    return {
      plan: raw.plan,
      autoUseCredits: raw.auto_use_credits === null ? null : raw.auto_use_credits === 1,
      autoReload: raw.auto_reload === null ? null : (JSON.parse(raw.auto_reload) as AutoReloadSettings),
      balance: raw.balance,
      debt: raw.debt,
      creditHeld: raw.credit_held,
      planHeld: raw.plan_held,
      lastHoldId: Math.max(raw.last_hold_id, raw.max_hold_id),
      nextExpiry: raw.next_expiry,
      lastUsageTs: raw.last_usage_ts,
      periods: {
        '5h': period(raw.five_hour_period, raw.five_hour_ends, raw.five_hour_used, raw.five_hour_from),
        weekly: period(raw.weekly_period, raw.weekly_ends, raw.weekly_used, raw.weekly_from),
      },
      clockMark: storedMark(raw.clock_time, raw.clock_mono, raw.clock_domain),
      revision: raw.revision,
      storedUsageId: raw.totals_usage_id,
      totalsUsageId: raw.totals_usage_id,
    };
  }

  /** Marks the in-memory totals as what is about to be stored. */
  private stamp(a: AccountRow): void {
    a.revision++;
    a.storedUsageId = a.totalsUsageId;
  }

  saveAccount(a: AccountRow): void {
    this.stamp(a);
    const five = a.periods['5h'];
    const week = a.periods.weekly;
    this.updateAccount.run(
      a.plan,
      a.autoUseCredits === null ? null : a.autoUseCredits ? 1 : 0,
      a.autoReload === null ? null : JSON.stringify(a.autoReload),
      a.balance,
      a.debt,
      a.lastHoldId,
      a.nextExpiry,
      a.lastUsageTs,
      five?.id ?? null,
      five?.endsAt ?? null,
      five?.used ?? 0,
      week?.id ?? null,
      week?.endsAt ?? null,
      week?.used ?? 0,
      five?.measuredFrom ?? null,
      week?.measuredFrom ?? null,
      a.revision,
      a.storedUsageId,
      ...markColumns(a.clockMark),
    );
  }

  /** Writes only the running totals: a post's path, when no setting and no period changed. */
  saveTotals(a: AccountRow): void {
    this.stamp(a);
    this.updateTotals.run(
      a.balance,
      a.debt,
      a.lastHoldId,
      a.nextExpiry,
      a.lastUsageTs,
      a.periods['5h']?.used ?? 0,
      a.periods.weekly?.used ?? 0,
      a.revision,
      a.storedUsageId,
      ...markColumns(a.clockMark),
    );
  }

  // ---- holds and usage (the hot path) -------------------------------------------------------------

  insertHold(h: HoldRow): void {
    this.insertHoldStmt.run(h.id, h.ts, h.requestId, h.client, h.model, h.route, h.feature, h.kind, h.estimate, h.ownerPid, h.ownerInstance);
  }

  /** Removes a pending hold and returns it, or undefined when it is not pending. */
  takeHold(id: number): HoldRow | undefined {
    return this.takeHoldStmt.get(id);
  }

  /** Removes a pending hold whose contents the caller already knows; false when it was not pending. */
  deleteHold(id: number): boolean {
    return this.deleteHoldStmt.run(id).changes === 1;
  }

  pendingHolds(): HoldRow[] {
    return this.pendingHoldsStmt.all();
  }

  insertVoidedHold(h: HoldRow, voidedAt: number): void {
    this.insertVoidedHoldStmt.run(h.id, h.ts, voidedAt, h.requestId, h.client, h.model, h.route, h.feature, h.kind, h.estimate);
  }

  insertUsage(u: NewUsage): number {
    const { usage } = u;
    const result = this.insertUsageStmt.run(
      u.ts, u.hold.id, u.hold.requestId, u.hold.client, u.hold.feature, u.model, u.hold.route, u.status,
      usage.inputTokens, usage.cachedInputTokens, usage.cacheWriteTokens, usage.outputTokens, usage.reasoningTokens,
      u.cost, u.planCost, u.creditCost, u.estimated ? 1 : 0, u.reason, u.unpriced ? 1 : 0,
    );
    return Number(result.lastInsertRowid);
  }

  usageAfter(id: number): UsageTailRow[] {
    return this.usageTailStmt.all(id);
  }

  /** Changes when another connection commits (not on this connection's own commits). */
  dataVersion(): number {
    return this.dataVersionStmt.get()!;
  }

  // ---- window periods -----------------------------------------------------------------------------

  openPeriod(name: WindowName, startedAt: number, endsAt: number): number {
    return this.insertPeriodStmt.get(name, startedAt, endsAt)!.id;
  }

  closePeriod(id: number, closedAt: number, reason: 'expired' | 'reset', used: Micro): void {
    this.closePeriodStmt.run(closedAt, reason, used, id);
  }

  // ---- grants -------------------------------------------------------------------------------------

  /** The grant to spend next: the one expiring first, grants without expiry last. */
  headGrant(): SpendableGrant | undefined {
    return this.headGrantStmt.get();
  }

  /** Takes part of a grant's remainder (less than all of it). */
  spendGrant(id: number, amount: Micro): void {
    this.spendGrantStmt.run(amount, id);
  }

  /** Takes the rest of a grant: it leaves the spendable index, stamped with when. */
  exhaustGrant(id: number, at: number): void {
    this.exhaustGrantStmt.run(at, id);
  }

  grantRemaining(id: number): Micro {
    return this.grantRemainingStmt.get(id) ?? 0;
  }

  /** The grant added with this idempotency key, as it was bought (not what is left of it). */
  grantByKey(key: string): KeyedGrant | undefined {
    return this.grantByKeyStmt.get(key);
  }

  refundByKey(key: string): KeyedRefund | undefined {
    return this.refundByKeyStmt.get(key);
  }

  insertRefund(r: NewRefund): number {
    this.addRefundedStmt.run(r.amount, r.grantId);
    return this.insertRefundStmt.get(r.ts, r.grantId, r.amount, r.idempotencyKey)!.id;
  }

  insertGrant(g: NewGrant): number {
    const spendOrder = g.expiresAt ?? NO_EXPIRY_ORDER;
    const spentAt = g.remaining === 0 ? g.ts : null; // a grant wholly taken by debt is spent on arrival
    return this.insertGrantStmt.get(g.ts, g.source, g.amount, g.remaining, g.expiresAt, spendOrder, g.idempotencyKey, spentAt)!.id;
  }

  /** Grants with credit left whose expiry is at or before `now`. */
  grantsExpiringBy(now: number): ExpiringGrant[] {
    return this.expiringGrantsStmt.all(now);
  }

  /** The earliest expiry among grants with credit left, or null. */
  nextGrantExpiry(): number | null {
    return this.nextExpiryStmt.get(NO_EXPIRY_ORDER) ?? null;
  }

  countGrantsWithKeyPrefix(prefix: string): number {
    // A range on the unique key index: every key starting with prefix sorts in [prefix, prefix + U+FFFF).
    return this.countKeyRangeStmt.get(prefix, `${prefix}\uffff`)!;
  }

  insertCreditEvent(e: CreditEvent): void {
    this.insertCreditEventStmt.run(e.ts, e.kind, e.amount, e.grantId, e.usageId, e.refundId);
  }

  // ---- audit trail and client tokens --------------------------------------------------------------

  insertAudit(ts: number, actor: string, action: string, detail: Record<string, unknown>): void {
    this.insertAuditStmt.run(ts, actor, action, JSON.stringify(detail));
  }

  /** Revokes `name`'s live token and stores the new hash: one live token per client name. */
  replaceToken(name: string, hash: string, role: TokenRole, now: number): void {
    this.revokeTokensStmt.run(now, name);
    this.insertTokenStmt.run(name, hash, role, now);
  }

  clientForTokenHash(hash: string): AuthenticatedClient | undefined {
    return this.tokenClientStmt.get(hash);
  }
}

function markColumns(mark: TimeMark | null): [number | null, number | null, string | null] {
  return mark === null ? [null, null, null] : [mark.time, mark.mono, mark.domain];
}

function period(id: number | null, endsAt: number | null, used: Micro, measuredFrom: number | null): Period | null {
  return id === null || endsAt === null ? null : { id, endsAt, used, measuredFrom };
}
