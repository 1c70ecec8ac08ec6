/**
 * The PostgreSQL store's transaction (proxy/ledger/postgres/snapshotTx.ts) answers the rules from rows
 * it loaded, and hands the flush only the final state of what they changed. The SQLite store
 * (proxy/ledger/store.ts) answers every call with a statement, and is the reference here: the same
 * operations, savepoints included, on the same starting grants, holds and periods must get the same
 * answers from both, and the rows SQLite ends with must be the loaded rows with SnapshotTx's changes()
 * applied. No server needed: what flush.ts makes of changes() is the PostgreSQL tests' business.
 */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GrantSource } from '../shared/protocol';
import type { Changes, Loaded } from '../proxy/ledger/postgres/snapshotTx';
import { SnapshotTx } from '../proxy/ledger/postgres/snapshotTx';
import type { HoldRow, LedgerTx, NewUsage } from '../proxy/ledger/rows';
import { migrate } from '../proxy/ledger/schema';
import { Store } from '../proxy/ledger/store';
import { DEFAULT_SEAT } from '../proxy/ledger/seats';
import { T0, unitUsage } from './fixtures/ledger-setup';

type Row = Record<string, unknown>;

interface StartGrant {
  amount: number;
  /** Spent on arrival (remaining 0), or the share of the amount left. */
  left: 'none' | 'all' | 'some';
  expiresIn: number | null;
  refunded: number;
}

type Op =
  | { op: 'grant'; amount: number; zero: boolean; expiresIn: number | null; source: GrantSource }
  | { op: 'spendHead'; share: number }
  | { op: 'spend'; pick: number; share: number }
  | { op: 'exhaust'; pick: number; at: number }
  | { op: 'refund'; pick: number; amount: number; key: number }
  | { op: 'hold'; estimate: number; kind: 'plan' | 'credits' }
  | { op: 'take'; pick: number; how: 'take' | 'delete' }
  | { op: 'void'; pick: number }
  | { op: 'usage'; cost: number }
  | { op: 'openPeriod'; name: '5h' | 'weekly' }
  | { op: 'closePeriod'; pick: number; used: number; reason: 'expired' | 'reset' }
  | { op: 'event'; kind: 'spend' | 'expire' | 'debt' | 'debt_repaid'; amount: number }
  | { op: 'audit'; action: string }
  | { op: 'mark' }
  | { op: 'rollback' };

const SOURCES: GrantSource[] = ['purchase', 'promo', 'refund', 'admin'];
/** Expiries a few ms apart, so that grants share an expiry and a spending-order tie is common. */
const expiresIn = fc.option(fc.integer({ min: 1, max: 6 }), { nil: null });

const startGrant: fc.Arbitrary<StartGrant> = fc.record({
  amount: fc.integer({ min: 2, max: 400 }),
  left: fc.constantFrom('none' as const, 'all' as const, 'some' as const),
  expiresIn,
  refunded: fc.nat({ max: 3 }),
});

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('grant' as const), amount: fc.integer({ min: 1, max: 400 }), zero: fc.boolean(), expiresIn, source: fc.constantFrom(...SOURCES) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('spendHead' as const), share: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('spend' as const), pick: fc.nat(), share: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('exhaust' as const), pick: fc.nat(), at: fc.integer({ min: 0, max: 8 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('refund' as const), pick: fc.nat(), amount: fc.integer({ min: 1, max: 300 }), key: fc.nat({ max: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('hold' as const), estimate: fc.integer({ min: 1, max: 300 }), kind: fc.constantFrom('plan' as const, 'credits' as const) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('take' as const), pick: fc.nat(), how: fc.constantFrom('take' as const, 'delete' as const) }) },
  fc.record({ op: fc.constant('void' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('usage' as const), cost: fc.nat({ max: 300 }) }),
  fc.record({ op: fc.constant('openPeriod' as const), name: fc.constantFrom('5h' as const, 'weekly' as const) }),
  fc.record({ op: fc.constant('closePeriod' as const), pick: fc.nat(), used: fc.nat({ max: 500 }), reason: fc.constantFrom('expired' as const, 'reset' as const) }),
  fc.record({ op: fc.constant('event' as const), kind: fc.constantFrom('spend' as const, 'expire' as const, 'debt' as const, 'debt_repaid' as const), amount: fc.integer({ min: 1, max: 100 }) }),
  fc.record({ op: fc.constant('audit' as const), action: fc.constantFrom('credits_added', 'plan_set') }),
  { weight: 2, arbitrary: fc.record({ op: fc.constant('mark' as const) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('rollback' as const) }) },
);

function hold(id: number, estimate: number, kind: 'plan' | 'credits'): HoldRow {
  return { id, ts: T0 + id, requestId: `req-${id}`, client: 'test', model: 'unit', route: '/v1/responses', feature: 'assistant', kind, estimate, ownerPid: 1, ownerInstance: 'i' };
}

function usage(h: HoldRow, cost: number): NewUsage {
  const planCost = h.kind === 'plan' ? cost : 0;
  return { ts: T0 + 100, hold: h, model: h.model, status: 200, usage: unitUsage(cost), cost, planCost, creditCost: cost - planCost, estimated: false, reason: null, unpriced: false };
}

/** A SQLite ledger file in memory with the starting rows, and the Loaded a PostgreSQL transaction would start from. */
function start(grants: StartGrant[], holds: number, periods: number): { db: Database.Database; store: Store; loaded: Loaded; keys: string[] } {
  const db = new Database(':memory:');
  migrate(db);
  const store = new Store(db);
  const keys: string[] = [];
  grants.forEach((g, i) => {
    const remaining = g.left === 'none' ? 0 : g.left === 'all' ? g.amount : Math.floor(g.amount / 2);
    const key = `k${i}`;
    const id = store.insertGrant({ ts: T0, source: 'purchase', amount: g.amount, remaining, expiresAt: g.expiresIn === null ? null : T0 + g.expiresIn, idempotencyKey: key });
    if (g.refunded > 0) store.insertRefund({ ts: T0, grantId: id, amount: g.refunded, idempotencyKey: `old-refund-${i}` });
    keys.push(key);
  });
  for (let id = 1; id <= holds; id++) store.insertHold(hold(id, 10 * id, id % 2 === 0 ? 'plan' : 'credits'));
  for (let i = 0; i < periods; i++) store.openPeriod(i % 2 === 0 ? '5h' : 'weekly', T0, T0 + 1_000);
  const live = db
    .prepare('SELECT id, remaining, expires_at AS expiresAt, spend_order AS spendOrder FROM grants WHERE spent_at IS NULL ORDER BY spend_order, id')
    .all() as Loaded['liveGrants'];
  const loaded: Loaded = {
    holds: new Map(store.pendingHolds().map((h) => [h.id, h])),
    requestedHolds: new Set(),
    allHolds: true,
    liveGrants: live,
    keyed: new Map(keys.map((key) => [key, store.grantByKey(key)!])),
    requestedKeys: new Set(),
    refunds: new Map(),
    requestedRefundKeys: new Set(Array.from({ length: 5 }, (_, i) => `refund-${i}`)),
    keyPrefixes: ['k'],
    liveInstances: new Set(),
    lastUsageId: 0,
    lastPeriodId: periods,
    lastGrantId: grants.length,
    lastRefundId: grants.filter((g) => g.refunded > 0).length,
  };
  return { db, store, loaded, keys };
}

/** A hold as SQLite keeps it: the seat is the team store's (SnapshotTx stamps every hold with one). */
function withoutSeat(h: HoldRow | undefined): Omit<HoldRow, 'seat'> | null {
  if (!h) return null;
  const { seat: _seat, ...rest } = h;
  return rest;
}

const all = (db: Database.Database, table: string): Row[] => db.prepare(`SELECT * FROM ${table} ORDER BY id`).all() as Row[];

/** Every answer the rules can ask a transaction for, of either store. */
function answers(tx: LedgerTx, keys: readonly string[], grantIds: number, holdIds: number): unknown {
  return {
    head: tx.headGrant(),
    next: tx.nextGrantExpiry(),
    expiring: [0, 1, 3, 6, 100].map((dt) => tx.grantsExpiringBy(T0 + dt)),
    remaining: Array.from({ length: grantIds + 2 }, (_, i) => tx.grantRemaining(i + 1)),
    keyed: [...keys, 'k-never-used'].map((key) => tx.grantByKey(key) ?? null),
    refunds: Array.from({ length: 5 }, (_, i) => tx.refundByKey(`refund-${i}`) ?? null),
    count: tx.countGrantsWithKeyPrefix('k'),
    countNew: tx.countGrantsWithKeyPrefix('knew'),
    pending: tx.pendingHolds().map(withoutSeat),
    holdIds,
  };
}

/** The rows the loaded rows become with `changes` applied, as flush.ts writes them (in SQLite's columns). */
function flushed(before: { grants: Row[]; holds: Row[]; periods: Row[] }, c: Changes): Record<string, Row[]> {
  const grants = new Map(before.grants.map((g) => [g.id as number, { ...g }]));
  for (const g of c.spentGrants) Object.assign(grants.get(g.id)!, { remaining: g.remaining, spent_at: g.spentAt });
  for (const g of c.refundedGrants) grants.get(g.id)!.refunded = (grants.get(g.id)!.refunded as number) + g.refunded;
  for (const g of c.insertedGrants) {
    grants.set(g.id, {
      id: g.id, ts: g.ts, source: g.source, amount: g.amount, remaining: g.remaining, expires_at: g.expiresAt,
      spend_order: g.spendOrder, idempotency_key: g.idempotencyKey, spent_at: g.spentAt, refunded: g.refunded,
    });
  }
  const holds = new Map(before.holds.map((h) => [h.id as number, h]));
  for (const id of c.deletedHolds) holds.delete(id);
  for (const h of c.insertedHolds) {
    holds.set(h.id, { id: h.id, ts: h.ts, request_id: h.requestId, client: h.client, model: h.model, route: h.route, feature: h.feature, kind: h.kind, estimate: h.estimate, owner_pid: h.ownerPid, owner_instance: h.ownerInstance });
  }
  const periods = new Map(before.periods.map((p) => [p.id as number, { ...p }]));
  for (const p of c.closedPeriods) Object.assign(periods.get(p.id)!, { closed_at: p.closedAt, close_reason: p.closeReason, used: p.used });
  for (const p of c.insertedPeriods) {
    periods.set(p.id, { id: p.id, name: p.name, started_at: p.startedAt, ends_at: p.endsAt, closed_at: p.closedAt, close_reason: p.closeReason, used: p.used });
  }
  const byId = (rows: Map<number, Row>): Row[] => [...rows.values()].sort((a, b) => (a.id as number) - (b.id as number));
  return {
    grants: byId(grants),
    holds: byId(holds),
    window_periods: byId(periods),
    usage: c.usage.map((u) => ({ id: u.id, hold_id: u.hold.id, cost: u.cost, plan_cost: u.planCost, credit_cost: u.creditCost })),
    refunds: c.refunds.map((r) => ({ id: r.id, ts: r.ts, grant_id: r.grantId, amount: r.amount, idempotency_key: r.idempotencyKey })),
    voided_holds: c.voidedHolds.map((h) => ({ id: h.id, voided_at: h.voidedAt, kind: h.kind, estimate: h.estimate })).sort((x, y) => x.id - y.id),
    credit_events: c.creditEvents.map((e) => ({ ts: e.ts, kind: e.kind, amount: e.amount, grant_id: e.grantId, usage_id: e.usageId, refund_id: e.refundId })),
    audit: c.audit.map((a) => ({ ts: a.ts, actor: a.actor, action: a.action, detail: JSON.stringify(a.detail) })),
  };
}

/** SQLite's rows after the operations, in the columns `flushed` gives. */
function sqliteRows(db: Database.Database, oldRefunds: number): Record<string, Row[]> {
  const pick = (rows: Row[], columns: string[]): Row[] => rows.map((r) => Object.fromEntries(columns.map((c) => [c, r[c]])));
  return {
    grants: all(db, 'grants'),
    holds: all(db, 'holds'),
    window_periods: all(db, 'window_periods'),
    usage: pick(all(db, 'usage'), ['id', 'hold_id', 'cost', 'plan_cost', 'credit_cost']),
    refunds: all(db, 'refunds').slice(oldRefunds),
    voided_holds: pick(all(db, 'voided_holds'), ['id', 'voided_at', 'kind', 'estimate']),
    credit_events: pick(all(db, 'credit_events'), ['ts', 'kind', 'amount', 'grant_id', 'usage_id', 'refund_id']),
    audit: pick(all(db, 'audit'), ['ts', 'actor', 'action', 'detail']),
  };
}

/** Runs `ops` on both stores, comparing every answer after each; returns both final row sets. */
function runBoth(grants: StartGrant[], holdCount: number, periodCount: number, ops: Op[]): { expected: unknown; actual: unknown } {
  const { db, store, loaded, keys } = start(grants, holdCount, periodCount);
  const before = { grants: all(db, 'grants'), holds: all(db, 'holds'), periods: all(db, 'window_periods') };
  const oldRefunds = loaded.lastRefundId;
  const snap = new SnapshotTx(loaded);
  const both = (work: (tx: LedgerTx) => unknown): void => {
    const a = work(store);
    const b = work(snap);
    expect(b).toEqual(a);
  };
  /** Any grant with credit left, whatever its place in the spending order; undefined when none is. */
  const pickLiveGrant = (pick: number) => {
    const live = store.grantsExpiringBy(Number.MAX_SAFE_INTEGER);
    return live[pick % Math.max(1, live.length)];
  };
  // What both know was done, to pick valid arguments (the rules never spend a grant that is not live).
  let grantCount = grants.length;
  let holdIds = holdCount;
  let periodIds = periodCount;
  const marks: { savepoint: string; mark: number; grantCount: number; holdIds: number; periodIds: number }[] = [];
  db.exec('BEGIN');
  for (const o of ops) {
    switch (o.op) {
      case 'grant': {
        const key = `knew${keys.length}`;
        keys.push(key);
        const expiresAt = o.expiresIn === null ? null : T0 + o.expiresIn;
        both((tx) => tx.insertGrant({ ts: T0 + 1, source: o.source, amount: o.amount, remaining: o.zero ? 0 : o.amount, expiresAt, idempotencyKey: key }));
        grantCount++;
        break;
      }
      case 'spendHead': {
        const head = store.headGrant();
        const amount = head ? Math.floor(o.share * (head.remaining - 1)) : 0;
        if (head && amount > 0) both((tx) => tx.spendGrant(head.id, amount));
        break;
      }
      case 'spend': {
        // A refund takes from its own grant first, wherever it is in the spending order.
        const grant = pickLiveGrant(o.pick);
        const amount = grant ? Math.floor(o.share * (grant.remaining - 1)) : 0;
        if (grant && amount > 0) both((tx) => tx.spendGrant(grant.id, amount));
        break;
      }
      case 'exhaust': {
        const grant = pickLiveGrant(o.pick);
        if (grant) both((tx) => tx.exhaustGrant(grant.id, T0 + o.at));
        break;
      }
      case 'refund': {
        const grantId = (o.pick % grantCount) + 1;
        if (grantCount > 0 && store.refundByKey(`refund-${o.key}`) === undefined) {
          both((tx) => tx.insertRefund({ ts: T0 + 2, grantId, amount: o.amount, idempotencyKey: `refund-${o.key}` }));
        }
        break;
      }
      case 'hold': {
        holdIds++;
        const id = holdIds;
        both((tx) => tx.insertHold(hold(id, o.estimate, o.kind)));
        break;
      }
      case 'take': {
        const id = (o.pick % (holdIds + 1)) + 1; // now and then one that is not pending
        both((tx) => (o.how === 'take' ? withoutSeat(tx.takeHold(id)) : tx.deleteHold(id)));
        break;
      }
      case 'void': {
        const pending = store.pendingHolds();
        const h = pending[o.pick % Math.max(1, pending.length)];
        if (h) {
          both((tx) => {
            const taken = tx.takeHold(h.id)!;
            tx.insertVoidedHold(taken, T0 + 50);
          });
        }
        break;
      }
      case 'usage': {
        const h = hold(holdIds + 1_000, 1, 'credits');
        both((tx) => tx.insertUsage(usage(h, o.cost)));
        break;
      }
      case 'openPeriod':
        both((tx) => tx.openPeriod(o.name, T0 + 3, T0 + 3 + 1_000));
        periodIds++;
        break;
      case 'closePeriod':
        if (periodIds > 0) {
          const id = (o.pick % periodIds) + 1;
          both((tx) => tx.closePeriod(id, T0 + 4, o.reason, o.used));
        }
        break;
      case 'event':
        both((tx) => tx.insertCreditEvent({ ts: T0 + 5, kind: o.kind, amount: o.amount, grantId: grantCount > 0 ? 1 : null, usageId: null, refundId: null }));
        break;
      case 'audit':
        both((tx) => tx.insertAudit(T0 + 6, 'local', o.action, { n: grantCount }));
        break;
      case 'mark': {
        const savepoint = `s${marks.length}`;
        db.exec(`SAVEPOINT ${savepoint}`);
        marks.push({ savepoint, mark: snap.mark(), grantCount, holdIds, periodIds });
        break;
      }
      case 'rollback': {
        const m = marks.pop();
        if (!m) break;
        db.exec(`ROLLBACK TO ${m.savepoint}; RELEASE ${m.savepoint}`);
        snap.rollbackTo(m.mark);
        ({ grantCount, holdIds, periodIds } = m);
        keys.splice(grantCount);
        break;
      }
    }
    expect(answers(snap, keys, grantCount, holdIds)).toEqual(answers(store, keys, grantCount, holdIds));
  }
  db.exec('COMMIT');
  const c = snap.changes();
  // The flush inserts new holds and deletes loaded ones: a hold placed and settled here is in neither.
  const loadedHolds = new Set(before.holds.map((h) => h.id as number));
  expect(c.insertedHolds.filter((h) => loadedHolds.has(h.id))).toEqual([]);
  expect(c.deletedHolds.filter((id) => !loadedHolds.has(id))).toEqual([]);
  const result = { expected: sqliteRows(db, oldRefunds), actual: flushed(before, c) };
  const max = (table: string): number => (db.prepare(`SELECT coalesce(max(id), 0) AS m FROM ${table}`).get() as { m: number }).m;
  expect([c.lastUsageId, c.lastPeriodId, c.lastGrantId, c.lastRefundId]).toEqual([max('usage'), max('window_periods'), max('grants'), max('refunds')]);
  db.close();
  return result;
}

describe('SnapshotTx against the SQLite store', () => {
  it('answers as SQLite does after every operation, savepoints included, and hands the flush the rows SQLite ends with', () => {
    fc.assert(
      fc.property(fc.array(startGrant, { maxLength: 6 }), fc.nat({ max: 3 }), fc.nat({ max: 2 }), fc.array(op, { minLength: 1, maxLength: 60, size: 'large' }), (grants, holds, periods, ops) => {
        const { expected, actual } = runBoth(grants, holds, periods, ops);
        expect(actual).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });
});

describe('SnapshotTx on its own', () => {
  it('refuses to answer for rows it did not load, rather than answer "none"', () => {
    const { loaded } = start([{ amount: 10, left: 'all', expiresIn: null, refunded: 0 }], 0, 0);
    const tx = new SnapshotTx({ ...loaded, allHolds: false, keyed: new Map(), keyPrefixes: [], requestedRefundKeys: new Set() });
    const internal = (message: string) => expect.objectContaining({ code: 'internal', message });
    expect(() => tx.takeHold(7)).toThrow(internal('hold 7 was not loaded for this transaction'));
    expect(() => tx.deleteHold(7)).toThrow(internal('hold 7 was not loaded for this transaction'));
    expect(() => tx.pendingHolds()).toThrow(internal('the open holds were not loaded for this transaction'));
    expect(() => tx.grantByKey('k0')).toThrow(internal('idempotency key "k0" was not loaded for this transaction'));
    expect(() => tx.countGrantsWithKeyPrefix('k')).toThrow(internal('grants with key prefix "k" were not loaded for this transaction'));
    expect(() => tx.refundByKey('refund-0')).toThrow(internal('refund key "refund-0" was not loaded for this transaction'));
    expect(() => tx.spendGrant(9, 1)).toThrow(internal('grant 9 has no credit left to take'));
    expect(() => tx.exhaustGrant(9, T0)).toThrow(internal('grant 9 has no credit left to take'));
    // What it did load it answers for: a hold the operation named is not pending, a key it named was never used.
    const named = new SnapshotTx({ ...loaded, allHolds: false, requestedHolds: new Set([7]), keyed: new Map(), requestedKeys: new Set(['fresh']) });
    expect(named.takeHold(7)).toBeUndefined();
    expect(named.grantByKey('fresh')).toBeUndefined();
    expect(named.grantRemaining(1)).toBe(10);
  });

  it('over live grants alone (a status view, the rules tests) knows no holds, keys or refunds but those it is given', () => {
    const tx = SnapshotTx.ofLiveGrants([{ id: 3, remaining: 40, expiresAt: T0 + 1, spendOrder: T0 + 1 }], { grants: ['order-1'], refunds: ['refund-1'] });
    expect(tx.headGrant()).toEqual({ id: 3, remaining: 40 });
    expect(tx.grantsExpiringBy(T0 + 1)).toEqual([{ id: 3, remaining: 40, expiresAt: T0 + 1 }]);
    expect(tx.grantByKey('order-1')).toBeUndefined();
    expect(tx.refundByKey('refund-1')).toBeUndefined();
    expect(() => tx.pendingHolds()).toThrow(expect.objectContaining({ code: 'internal' }));
    expect(() => tx.takeHold(1)).toThrow(expect.objectContaining({ code: 'internal' }));
    expect(() => tx.grantByKey('order-2')).toThrow(expect.objectContaining({ code: 'internal' }));
    expect(() => tx.countGrantsWithKeyPrefix('')).toThrow(expect.objectContaining({ code: 'internal' }));
    // Its ids start after none: the first grant it adds is #1 (the rules tests read them back).
    expect(tx.insertGrant({ ts: T0, source: 'purchase', amount: 5, remaining: 5, expiresAt: null, idempotencyKey: 'order-1' })).toBe(1);
  });

  it('stamps holds and periods with the seat it is bound to, and tells which instances are alive', () => {
    const { loaded } = start([], 1, 1);
    const tx = new SnapshotTx({ ...loaded, liveInstances: new Set(['gateway-a']) });
    expect(tx.isInstanceAlive('gateway-a')).toBe(true);
    expect(tx.isInstanceAlive('gateway-b')).toBe(false);
    expect(tx.seatOfHold(1)).toBe(DEFAULT_SEAT); // loaded without a seat: the individual ledger's
    expect(tx.seatOfHold(99)).toBe(DEFAULT_SEAT); // not pending: the rules refuse it
    tx.boundSeat = 'alice';
    tx.insertHold(hold(2, 5, 'plan'));
    const period = tx.openPeriod('weekly', T0, T0 + 1_000);
    tx.closePeriod(1, T0 + 1, 'reset', 7);
    expect(tx.seatOfHold(2)).toBe('alice');
    tx.boundSeat = 'bob';
    tx.insertHold(hold(3, 5, 'plan'));
    expect(tx.seatOfHold(3)).toBe('bob');
    const c = tx.changes();
    expect(c.insertedHolds.map((h) => [h.id, h.seat])).toEqual([
      [2, 'alice'],
      [3, 'bob'],
    ]);
    expect(c.insertedPeriods).toEqual([{ id: period, seat: 'alice', name: 'weekly', startedAt: T0, endsAt: T0 + 1_000, closedAt: null, closeReason: null, used: null }]);
    expect(c.closedPeriods).toEqual([expect.objectContaining({ id: 1, seat: 'alice', closedAt: T0 + 1, closeReason: 'reset', used: 7 })]);
  });
});
