/**
 * What a PostgreSQL write transaction reads before the rules run, in one round trip: BEGIN, then
 * creditgate_load (loadFunctions.ts: the account row locked FOR UPDATE, then the held sums, the holds
 * the queued operations name, the grants with credit left, and the grants and refunds of the
 * idempotency keys they name), and how those rows become the rules' working state.
 *
 * Rows arrive as JSON (row_to_json), so bigint columns come back as exact JS numbers, not strings.
 */
import type { AutoReloadSettings } from '../autoReload';
import { RELOAD_KEY_ROOT } from '../autoReload';
import type { AccountRow, CreditCap, HoldRow, KeyedGrant, Period } from '../rows';
import { storedMark, type TimeMark } from '../trustedTime';
import type { Loaded, LiveGrant } from './snapshotTx';
import { bool, int, intArray, text, textArray } from './sqlText';

/** What the queued operations of one transaction need loaded besides the account. */
export interface Needs {
  /** Seats the operations act for (their plans and windows); the seats of the holds they name come too. */
  seats: Set<string>;
  /** Every seat (a reset of all windows). */
  allSeats: boolean;
  holdIds: Set<number>;
  /** Every open hold, and which instances are alive (recovery). */
  allHolds: boolean;
  grantKeys: Set<string>;
  refundKeys: Set<string>;
}

export function emptyNeeds(): Needs {
  return { seats: new Set(), allSeats: false, holdIds: new Set(), allHolds: false, grantKeys: new Set(), refundKeys: new Set() };
}

/** The pool's row. */
export interface RawAccount {
  auto_reload: AutoReloadSettings | null;
  balance: number;
  debt: number;
  last_hold_id: number;
  last_usage_id: number;
  last_period_id: number;
  last_grant_id: number;
  last_refund_id: number;
  next_expiry: number | null;
  last_usage_ts: number;
  clock_time: number | null;
  clock_mono: number | null;
  clock_domain: string | null;
  revision: number;
  /** Which commit wrote the row last (schema 5: commitFunction.ts). */
  commit_id: string | null;
}

/** A seat's row. */
export interface RawSeat {
  name: string;
  plan: string | null;
  continue_on_pool: boolean | null;
  five_hour_period: number | null;
  five_hour_ends: number | null;
  five_hour_used: number;
  five_hour_from: number | null;
  weekly_period: number | null;
  weekly_ends: number | null;
  weekly_used: number;
  weekly_from: number | null;
  weekly_cap: number | null;
  cap_used: number;
  cap_week_start: number | null;
  removed_at: number | null;
}

/** What of an AccountRow belongs to a seat: the rules see one seat at a time, bound into the pool's row. */
export interface SeatState {
  plan: string | null;
  autoUseCredits: boolean | null;
  periods: AccountRow['periods'];
  planHeld: number;
  creditCap: CreditCap | null;
  removed: boolean;
}

export interface Held {
  /** Σ open plan holds by seat. */
  plan: Record<string, number>;
  /** Σ open credit holds by seat (a seat's weekly cap counts them). */
  creditsBySeat: Record<string, number>;
  credits: number;
  maxId: number;
}

interface RawHold {
  id: number;
  ts: number;
  request_id: string;
  client: string;
  model: string;
  route: string;
  feature: string;
  kind: 'plan' | 'credits';
  estimate: number;
  owner_pid: number;
  owner_instance: string;
  seat: string;
}

interface RawLiveGrant {
  id: number;
  remaining: number;
  expires_at: number | null;
  spend_order: number;
}

interface RawKeyedGrant {
  id: number;
  source: KeyedGrant['source'];
  amount: number;
  expires_at: number | null;
  idempotency_key: string;
  refunded: number;
}

interface RawKeyedRefund {
  id: number;
  grant_id: number;
  amount: number;
  idempotency_key: string;
}

/** Σ open holds (creditgate_held, loadFunctions.ts), as JSON of the shape Held. */
export const HELD_SQL = 'creditgate_held()';

/**
 * An instance is alive while its heartbeat (every HEARTBEAT_MS) is younger than this: a few missed
 * beats, so a busy moment is not taken for a death, and dead instances' holds settle well within a minute.
 */
export const INSTANCE_TIMEOUT_SECONDS = 20;

/** The grants with credit left, in spending order (creditgate_live_grants). */
export const LIVE_GRANTS_SQL = 'creditgate_live_grants()';

/** The seats named, and the seats of the holds named (every seat for recovery or a reset of all). */
export function seatsSql(names: Iterable<string>, holdIds: Iterable<number>, all: boolean): string {
  return `creditgate_seats(${textArray(names)}, ${intArray(holdIds)}, ${bool(all)})`;
}

/**
 * The first round trip of a write transaction: BEGIN, then creditgate_load (loadFunctions.ts), which
 * locks the pool's row and reads what the queued operations need. Its second result's one row is the
 * LoadResult, or null when the pool's row is missing.
 */
export function loadSql(needs: Needs): string {
  const args = [
    intArray(needs.holdIds),
    bool(needs.allHolds),
    textArray(needs.seats),
    bool(needs.allSeats),
    textArray(needs.grantKeys),
    text(RELOAD_KEY_ROOT),
    textArray(needs.refundKeys),
    `now() - interval '${INSTANCE_TIMEOUT_SECONDS} seconds'`,
  ];
  return `BEGIN;\nSELECT creditgate_load(${args.join(', ')}) AS loaded`;
}

export interface LoadResult {
  account: RawAccount;
  held: Held;
  holds: RawHold[];
  live: RawLiveGrant[];
  keyed: RawKeyedGrant[];
  refunds: RawKeyedRefund[];
  seats: RawSeat[];
  live_instances: string[];
}

export function toLoaded(result: LoadResult, needs: Needs): Loaded {
  return {
    holds: new Map(result.holds.map((h) => [h.id, toHold(h)])),
    requestedHolds: needs.holdIds,
    allHolds: needs.allHolds,
    liveGrants: result.live.map(toLiveGrant),
    keyed: new Map(
      result.keyed.map((k) => [k.idempotency_key, { id: k.id, source: k.source, amount: k.amount, expiresAt: k.expires_at, refunded: k.refunded }]),
    ),
    requestedKeys: needs.grantKeys,
    refunds: new Map(result.refunds.map((r) => [r.idempotency_key, { id: r.id, grantId: r.grant_id, amount: r.amount }])),
    requestedRefundKeys: needs.refundKeys,
    liveInstances: new Set(result.live_instances),
    keyPrefixes: [RELOAD_KEY_ROOT],
    lastUsageId: result.account.last_usage_id,
    lastPeriodId: result.account.last_period_id,
    lastGrantId: result.account.last_grant_id,
    lastRefundId: result.account.last_refund_id,
  };
}

export function toLiveGrant(g: RawLiveGrant): LiveGrant {
  return { id: g.id, remaining: g.remaining, expiresAt: g.expires_at, spendOrder: g.spend_order };
}

/** The pool's row as the rules work on it, bound to no seat yet (bindSeat does that per operation). */
export function toAccountRow(raw: RawAccount, held: Held): AccountRow {
  return {
    plan: null,
    autoUseCredits: null,
    autoReload: raw.auto_reload,
    balance: raw.balance,
    debt: raw.debt,
    creditHeld: held.credits,
    planHeld: 0,
    lastHoldId: Math.max(raw.last_hold_id, held.maxId),
    nextExpiry: raw.next_expiry,
    lastUsageTs: raw.last_usage_ts,
    periods: { '5h': null, weekly: null },
    clockMark: clockMarkOf(raw),
    revision: raw.revision,
    storedUsageId: raw.last_usage_id,
    totalsUsageId: raw.last_usage_id,
  };
}

/** The trusted time the row records (trustedTime.ts), or null before the first. */
export function clockMarkOf(raw: Pick<RawAccount, 'clock_time' | 'clock_mono' | 'clock_domain'>): TimeMark | null {
  return storedMark(raw.clock_time, raw.clock_mono, raw.clock_domain);
}

export function toSeatState(raw: RawSeat, held: Held): SeatState {
  return {
    plan: raw.plan,
    autoUseCredits: raw.continue_on_pool,
    periods: {
      '5h': period(raw.five_hour_period, raw.five_hour_ends, raw.five_hour_used, raw.five_hour_from),
      weekly: period(raw.weekly_period, raw.weekly_ends, raw.weekly_used, raw.weekly_from),
    },
    planHeld: held.plan[raw.name] ?? 0,
    creditCap:
      raw.weekly_cap === null
        ? null
        : { cap: raw.weekly_cap, used: raw.cap_used, weekStart: raw.cap_week_start, held: held.creditsBySeat[raw.name] ?? 0 },
    removed: raw.removed_at !== null,
  };
}

/** A copy that later changes to the seat's windows leave alone (a savepoint's). */
export function copySeat(seat: SeatState): SeatState {
  const five = seat.periods['5h'];
  const week = seat.periods.weekly;
  return { ...seat, periods: { '5h': five && { ...five }, weekly: week && { ...week } } };
}

/** Puts a seat's plan, windows and held sum into the row the rules work on. */
export function bindSeat(account: AccountRow, seat: SeatState): void {
  account.plan = seat.plan;
  account.autoUseCredits = seat.autoUseCredits;
  account.periods = seat.periods;
  account.planHeld = seat.planHeld;
  account.creditCap = seat.creditCap;
}

/** Takes them back out, as the rules left them. */
export function unbindSeat(account: AccountRow, removed: boolean): SeatState {
  return {
    plan: account.plan,
    autoUseCredits: account.autoUseCredits,
    periods: account.periods,
    planHeld: account.planHeld,
    creditCap: account.creditCap ?? null,
    removed,
  };
}

function period(id: number | null, endsAt: number | null, used: number, measuredFrom: number | null): Period | null {
  return id === null || endsAt === null ? null : { id, endsAt, used, measuredFrom };
}

function toHold(h: RawHold): HoldRow {
  return {
    id: h.id,
    ts: h.ts,
    requestId: h.request_id,
    client: h.client,
    model: h.model,
    route: h.route,
    feature: h.feature,
    kind: h.kind,
    estimate: h.estimate,
    ownerPid: h.owner_pid,
    ownerInstance: h.owner_instance,
    seat: h.seat,
  };
}

/** The usage columns the tail (recentUsage.ts) reads, as JSON keys. */
export const TAIL_JSON = `json_build_object('id', id, 'ts', ts, 'holdId', hold_id, 'feature', feature, 'planCost', plan_cost,
  'creditCost', credit_cost, 'model', model, 'client', client, 'cost', cost, 'outputTokens', output_tokens,
  'estimated', estimated::int, 'unpriced', unpriced::int)`;

export function tailAfterSql(lastId: number, limit: number): string {
  return `(SELECT coalesce(json_agg(rows.t ORDER BY (rows.t->>'id')::bigint), '[]') FROM
    (SELECT ${TAIL_JSON} AS t FROM usage WHERE id > ${int(lastId)} ORDER BY id LIMIT ${int(limit)}) rows)`;
}

