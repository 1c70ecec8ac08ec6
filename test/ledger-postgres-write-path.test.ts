/**
 * Schema version 6 of the PostgreSQL ledger (writePathSchema.ts): Σ open holds kept as running totals
 * by the commit that places or settles them, checked by the books; no per-row seat foreign key,
 * checked by the books instead; a batch's rows sent as differences from its first; a seat's row
 * written only when it changed; and a ledger written before version 6 brought up to date with its
 * open holds counted.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PostgresLedger } from '../proxy/ledger/postgres/postgresLedger';
import { PG_SCHEMA_VERSION } from '../proxy/ledger/postgres/schema';
import type { PostgresServer } from './helpers/postgres';
import { queryDatabase, startPostgres } from './helpers/postgres';
import { RATE_CARD, TEST_PLANS, TestClock, heldIn, micro, request, unitUsage } from './fixtures/ledger-setup';

let server: PostgresServer;
const open: PostgresLedger[] = [];

beforeAll(async () => {
  server = await startPostgres();
});
afterAll(() => server.close());
afterEach(async () => {
  for (const ledger of open.splice(0)) await ledger.close();
});

async function openLedger(url: string): Promise<PostgresLedger> {
  const clock = new TestClock();
  // 'tiny': windows of 1,000 (5h) and 3,000 (weekly) micro-credits, so larger holds go on credits.
  const ledger = await PostgresLedger.open({ url, rateCard: RATE_CARD, plans: TEST_PLANS, initialPlan: 'tiny', clock: clock.read, monotonicClock: clock.monotonic });
  open.push(ledger);
  return ledger;
}

interface Total {
  seat: string;
  kind: string;
  held: string;
}

/** held_totals beside Σ open holds, by seat and kind (zero totals left out: a settled seat's row stays at 0). */
async function totalsAndSums(url: string): Promise<[Total[], Total[]]> {
  const totals = await queryDatabase<Total>(url, 'SELECT seat, kind, held::text FROM held_totals WHERE held <> 0 ORDER BY seat, kind');
  const sums = await queryDatabase<Total>(url, 'SELECT seat, kind, sum(estimate)::text AS held FROM holds GROUP BY seat, kind ORDER BY seat, kind');
  return [totals, sums];
}

async function charge(ledger: PostgresLedger, cost: number): Promise<void> {
  const admission = await ledger.admit(request(cost));
  if (!admission.admitted) throw new Error(`not admitted: ${admission.reason}`);
  await ledger.post(admission.holdId, { usage: unitUsage(cost) });
}

/** A credit in the pool, a seat `carol`, and the default seat's windows used up: its holds go on the pool, carol's on her own windows. */
async function poolAndCarol(ledger: PostgresLedger): Promise<void> {
  await ledger.addCredits({ amount: micro(1), idempotencyKey: 'pool', source: 'admin' });
  await ledger.addSeat('carol', undefined);
  await charge(ledger, 1_000);
}

describe('the PostgreSQL write path (schema version 6)', () => {
  it('keeps Σ open holds per seat and kind in step with the holds as they are placed, settled and voided', async () => {
    const url = await server.createDatabase();
    const ledger = await openLedger(url);
    await poolAndCarol(ledger);
    const pool = await ledger.admit(request(5_000));
    const poolToo = await ledger.admit(request(2_000));
    const carols = await ledger.admit({ ...request(400), seat: 'carol' });
    if (!pool.admitted || !poolToo.admitted || !carols.admitted) throw new Error('not admitted');
    const open = [
      { seat: 'carol', kind: 'plan', held: '400' },
      { seat: 'default', kind: 'credits', held: '7000' },
    ];
    expect(await totalsAndSums(url)).toEqual([open, open]);
    // What the rules see is the totals: each status holds exactly its seat's open holds, and the pool's.
    expect(heldIn(await ledger.status())).toEqual({ credits: 7_000, plan: 0 });
    expect(heldIn(await ledger.status('carol'))).toEqual({ credits: 7_000, plan: 400 });

    // Settled in one transaction: one statement deletes several holds.
    await Promise.all([ledger.post(pool.holdId, { usage: unitUsage(4_000) }), ledger.void(carols.holdId)]);
    const left = [{ seat: 'default', kind: 'credits', held: '2000' }];
    expect(await totalsAndSums(url)).toEqual([left, left]);
    await ledger.post(poolToo.holdId, { usage: unitUsage(1_500) });
    expect(await totalsAndSums(url)).toEqual([[], []]);
    expect(heldIn(await ledger.status('carol'))).toEqual({ credits: 0, plan: 0 });
    expect(await ledger.checkBooks()).toEqual([]);
  });

  it('writes every column of every row of a batch, whatever each shares with the first (rows sent as differences)', async () => {
    const url = await server.createDatabase();
    const ledger = await openLedger(url);
    await ledger.addCredits({ amount: micro(1), idempotencyKey: 'pool', source: 'admin' });
    await ledger.addSeat('carol', undefined);
    // One turn, one transaction: holds that differ from the first in one column each, or in none.
    const asked: (ReturnType<typeof request> & { seat?: string })[] = [
      { ...request(2_000), client: 'laptop', model: 'gpt-test' },
      { ...request(2_000), client: 'laptop', model: 'gpt-test' },
      { ...request(2_000), client: 'desktop', model: 'gpt-test' },
      { ...request(2_500), client: 'laptop', model: 'claude-test', route: '/v1/messages' },
      { ...request(2_000), client: 'laptop', model: 'gpt-test', seat: 'carol' },
    ];
    // (A transaction the server refused would be retried write by write: the count shows it was not.)
    const transactions = (): number => ledger.trips.one + ledger.trips.two;
    const before = transactions();
    const admissions = await Promise.all(asked.map((a) => ledger.admit(a)));
    expect(transactions()).toBe(before + 1);
    const holds = admissions.map((a) => (a.admitted ? a.holdId : Number.NaN));
    expect(holds.every(Number.isInteger)).toBe(true);
    const stored = await queryDatabase<{ client: string; model: string; route: string; seat: string; estimate: string }>(
      url,
      'SELECT client, model, route, seat, estimate::text FROM holds ORDER BY id',
    );
    expect(stored).toEqual(asked.map((a) => ({ client: a.client, model: a.model, route: a.route, seat: a.seat ?? 'default', estimate: String(a.estimate) })));

    // One turn of posts whose usage rows differ in tokens, status, the model answered and estimation.
    const usage = { vendor: 'openai' as const, inputTokens: 100, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 50, reasoningTokens: 0 };
    await Promise.all([
      ledger.post(holds[0]!, { usage }),
      ledger.post(holds[1]!, { usage: { ...usage, cachedInputTokens: 40 } }),
      ledger.post(holds[2]!, { usage, estimated: true, reason: 'client_disconnect' }),
      ledger.post(holds[3]!, { usage: { ...usage, vendor: 'anthropic', cacheWriteTokens: 7 }, httpStatus: 201 }),
      ledger.post(holds[4]!, { usage: { ...usage, outputTokens: 60 }, model: 'gpt-test' }),
    ]);
    expect(transactions()).toBe(before + 2);
    const rows = (await ledger.usageRows({})).sort((x, y) => x.id - y.id);
    expect(rows.map((r) => [r.client, r.model, r.route, r.status, r.cachedInputTokens, r.cacheWriteTokens, r.outputTokens, r.estimated, r.reason])).toEqual([
      ['laptop', 'gpt-test', '/v1/responses', 200, 0, 0, 50, false, null],
      ['laptop', 'gpt-test', '/v1/responses', 200, 40, 0, 50, false, null],
      ['desktop', 'gpt-test', '/v1/responses', 200, 0, 0, 50, true, 'client_disconnect'],
      ['laptop', 'claude-test', '/v1/messages', 201, 0, 7, 50, false, null],
      ['laptop', 'gpt-test', '/v1/responses', 200, 0, 0, 60, false, null],
    ]);
    expect(new Set(rows.map((r) => r.cost)).size).toBeGreaterThan(1);
    expect(await queryDatabase(url, 'SELECT seat FROM usage ORDER BY id')).toEqual(asked.map((a) => ({ seat: a.seat ?? 'default' })));
    expect(await ledger.checkBooks()).toEqual([]);
  });

  it("leaves a seat's row alone when a transaction did not change it, and writes it when it did", async () => {
    const url = await server.createDatabase();
    const ledger = await openLedger(url);
    // xmin: the transaction that wrote the row's current version.
    const version = async (): Promise<string> =>
      (await queryDatabase<{ xmin: string }>(url, "SELECT xmin::text FROM seats WHERE name = 'default'"))[0]!.xmin;
    await charge(ledger, 100); // opens the windows
    const before = await version();
    const admission = await ledger.admit(request(200));
    if (!admission.admitted) throw new Error('not admitted');
    // An admission on a window: its hold is in holds and held_totals, the seat's row is as it was.
    expect(await version()).toBe(before);
    await ledger.post(admission.holdId, { usage: unitUsage(150) });
    // A post moves the window's use: the row is written.
    expect(await version()).not.toBe(before);
    expect((await ledger.limits()).windows['5h'].usedPercent).toBe(25);
    expect(await ledger.checkBooks()).toEqual([]);
  });

  it('refuses to update or truncate holds, which the totals would not follow', async () => {
    const url = await server.createDatabase();
    const ledger = await openLedger(url);
    const admission = await ledger.admit(request(400));
    expect(admission.admitted).toBe(true);
    await expect(queryDatabase(url, 'UPDATE holds SET estimate = estimate + 1')).rejects.toThrow(/holds are only inserted and deleted \(UPDATE/);
    await expect(queryDatabase(url, 'TRUNCATE holds')).rejects.toThrow(/holds are only inserted and deleted \(TRUNCATE/);
    expect(await ledger.checkBooks()).toEqual([]);
  });

  it('reports totals out of step with the holds, and rows that name no seat, as problems with the books', async () => {
    const url = await server.createDatabase();
    const ledger = await openLedger(url);
    const admission = await ledger.admit(request(400));
    if (!admission.admitted) throw new Error('not admitted');
    await ledger.post(admission.holdId, { usage: unitUsage(300) });
    await ledger.admit(request(200));
    expect(await ledger.checkBooks()).toEqual([]);

    await queryDatabase(url, "UPDATE held_totals SET held = held + 1 WHERE seat = 'default' AND kind = 'plan'");
    expect(await ledger.checkBooks()).toEqual(["1 seat's plan or credit hold total(s) that are not the sum of the seat's open holds"]);
    await queryDatabase(url, "UPDATE held_totals SET held = held - 1 WHERE seat = 'default' AND kind = 'plan'");

    // Without the foreign key, only the books notice a row whose seat is not there.
    await queryDatabase(url, "UPDATE usage SET seat = 'nobody'");
    expect(await ledger.checkBooks()).toEqual(['1 hold or usage row(s) that name no seat']);
  });

  it('brings a ledger written at schema version 5 up to date with its open holds counted', async () => {
    const url = await server.createDatabase();
    const before = await openLedger(url);
    await poolAndCarol(before);
    const plan = await before.admit({ ...request(600), seat: 'carol' });
    const credits = await before.admit(request(9_000));
    if (!plan.admitted || !credits.admitted) throw new Error('not admitted');
    await before.close();
    open.splice(open.indexOf(before), 1);
    // What a version-5 database is: no totals, no trigger refusing updates of holds, the seat foreign keys and a b-tree on usage.ts.
    await queryDatabase(
      url,
      `DROP TABLE held_totals; DROP FUNCTION creditgate_holds_unchanged CASCADE;
       ALTER TABLE holds ADD CONSTRAINT holds_seat_fkey FOREIGN KEY (seat) REFERENCES seats (name);
       ALTER TABLE usage ADD CONSTRAINT usage_seat_fkey FOREIGN KEY (seat) REFERENCES seats (name);
       DROP INDEX usage_ts; CREATE INDEX usage_ts ON usage (ts); UPDATE creditgate_schema SET version = 5`,
    );

    const after = await openLedger(url);
    expect(await queryDatabase(url, 'SELECT version FROM creditgate_schema')).toEqual([{ version: PG_SCHEMA_VERSION }]);
    expect(heldIn(await after.status('carol'))).toEqual({ credits: 9_000, plan: 600 });
    await after.post(plan.holdId, { usage: unitUsage(500) });
    await after.post(credits.holdId, { usage: unitUsage(8_000) });
    expect(heldIn(await after.status('carol'))).toEqual({ credits: 0, plan: 0 });
    expect(await totalsAndSums(url)).toEqual([[], []]);
    expect(await after.checkBooks()).toEqual([]);
  });
});
