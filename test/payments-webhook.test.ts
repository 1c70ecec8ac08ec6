/**
 * Stripe Checkout for a team's pool (issue 11), end to end over processes: `creditgate serve
 * --database URL` instances on a real PostgreSQL server, the real `stripe` package inside them
 * pointed at a local fake of Stripe's Checkout Sessions API, and webhooks played as Stripe sends
 * them, signed with `stripe.webhooks.generateTestHeaderString`. Every assertion reads the pool
 * through the gateway or the database: a credit that lands twice, or not at all, fails.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PaymentOptions, PurchaseView } from '../shared/payments';
import type { GrantRow } from '../shared/protocol';
import { rawRequest, type FakeUpstream, type RawResponse } from './fake-upstream';
import { publicSession, type FakeStripe } from './fake-stripe/server';
import { TEST_CLI } from './helpers/buildCli';
import { cli, killServeProcesses, serve, teamEnv, type CliResult, type ServeProcess } from './helpers/cliProcess';
import type { PostgresServer } from './helpers/postgres';
import { queryDatabase } from './helpers/postgres';
import { startPaymentsBackends, type PaymentsBackends } from './helpers/paymentsBackends';
import { eventually, followBalances } from './helpers/testGateway';

let server: PostgresServer;
let upstream: FakeUpstream;
let stripe: FakeStripe;
let url: string;
let env: NodeJS.ProcessEnv;
let dataDir: string;
const running: ServeProcess[] = [];

let backends: PaymentsBackends;

beforeAll(async () => {
  backends = await startPaymentsBackends();
  ({ server, upstream, stripe } = backends);
}, 120_000);
afterAll(() => backends.close());

beforeEach(async () => {
  url = await server.createDatabase();
  env = teamEnv(url, upstream.url, stripe.env);
  dataDir = env.CREDITGATE_DATA_DIR!;
});

afterEach(async () => {
  await killServeProcesses(running);
});

async function instances(count: number, extraEnv: NodeJS.ProcessEnv = {}): Promise<ServeProcess[]> {
  const started = await Promise.all(Array.from({ length: count }, () => serve([], { ...env, ...extraEnv })));
  running.push(...started);
  return started;
}

/** A config whose rate card is the shipped one plus a `payments` section. */
function configWithPayments(payments: object): string {
  const card = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../shared/default-rate-card.json'), 'utf8')) as object;
  const file = path.join(dataDir, 'config.json');
  fs.writeFileSync(file, JSON.stringify({ rateCard: { ...card, payments } }));
  return file;
}

/**
 * The CLI, without blocking this process: `credits buy` talks to the fake Stripe served from here,
 * which a synchronous spawn would keep from answering.
 */
function cliAsync(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TEST_CLI, ...args], { env: { ...process.env, ...env, ...extraEnv } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const token = (...args: string[]): string => cli(['token', ...args], env).stdout.trim().split('\n').at(-1)!;
const sql = <T>(query: string, params: unknown[] = []): Promise<T[]> => queryDatabase<T>(url, query, params);

function call(base: string, bearer: string, method: string, route: string, body?: unknown): Promise<RawResponse> {
  return rawRequest(`${base}${route}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

const json = <T>(res: RawResponse): T => JSON.parse(res.body.toString()) as T;

async function buy(base: string, bearer: string, pack = '500'): Promise<PurchaseView> {
  const res = await call(base, bearer, 'POST', '/creditgate/v1/purchases', { pack });
  expect(res.status, res.body.toString()).toBe(200);
  return json<PurchaseView>(res);
}

function deliver(base: string, event: object, options: { timestamp?: number; secret?: string } = {}): Promise<RawResponse> {
  const { body, signature } = stripe.delivery(event, options);
  return rawRequest(`${base}/creditgate/v1/payments/stripe/webhook`, { headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body });
}

/** The fake's session of a purchase, as a `checkout.session.*` event carries it. */
function sessionObject(purchase: PurchaseView, changes: { payment_status?: 'paid' | 'unpaid'; status?: 'complete' | 'expired' } = {}): object {
  const session = stripe.sessions.find((s) => s.id === purchase.sessionId);
  if (!session) throw new Error(`no fake session ${purchase.sessionId}`);
  return publicSession(session, { status: 'complete', payment_status: 'paid', ...changes });
}

function paidEvent(purchase: PurchaseView, type = 'checkout.session.completed'): object {
  return stripe.event(type, sessionObject(purchase));
}

async function poolBalance(): Promise<number> {
  const [row] = await sql<{ balance: number }>('SELECT balance FROM account');
  return Number(row!.balance) / 1e6;
}

const grantCount = async (): Promise<number> => Number((await sql<{ n: string }>("SELECT count(*) AS n FROM grants WHERE source = 'purchase'"))[0]!.n);

describe('starting a purchase', () => {
  it('creates one Checkout Session in payment mode, the purchase id as idempotency key and in the metadata with org, seat and credits', async () => {
    const [a] = await instances(1);
    const admin = token('--name', 'ops', '--admin');
    const purchase = await buy(a!.url, admin, '500');
    expect(purchase).toMatchObject({ state: 'open', credits: 500, price: 20, currency: 'usd', buyer: 'ops', seat: null });
    expect(purchase.checkoutUrl).toMatch(/^https:\/\/checkout\.stripe\.com\//);
    const session = stripe.sessions.find((s) => s.id === purchase.sessionId)!;
    expect(session.mode).toBe('payment');
    expect(session.idempotencyKey).toBe(purchase.id);
    expect(session.amount_total).toBe(2_000);
    expect(session.metadata).toMatchObject({ creditgate_purchase: purchase.id, credits: '500', seat: '', org: path.basename(new URL(url).pathname) });
    expect(session.success_url).toContain(`${a!.url}/creditgate/v1/checkout/done?purchase=${purchase.id}`);
    // The contract's other body forms: the pack by number, or a number of credits (a pack's, or at the card's price).
    const byNumber = json<PurchaseView>(await call(a!.url, admin, 'POST', '/creditgate/v1/purchases', { pack: 100 }));
    expect(byNumber).toMatchObject({ credits: 100, price: 4, id: expect.any(String), sessionId: expect.stringMatching(/^cs_test_/), url: expect.stringMatching(/^https:/) });
    const byCredits = json<PurchaseView>(await call(a!.url, admin, 'POST', '/creditgate/v1/purchases', { credits: 1000 }));
    expect(byCredits).toMatchObject({ credits: 1000, price: 40, pack: '1000' });
    const custom = json<PurchaseView>(await call(a!.url, admin, 'POST', '/creditgate/v1/purchases', { credits: 250 }));
    expect(custom).toMatchObject({ credits: 250, price: 10, pack: '250' });
    expect(stripe.sessions.find((s) => s.id === custom.sessionId)!.amount_total).toBe(1_000);
    const tooSmall = await call(a!.url, admin, 'POST', '/creditgate/v1/purchases', { credits: 5 });
    expect(tooSmall.status).toBe(400);
    expect(json<{ error: { message: string } }>(tooSmall).error.message).toMatch(/at least 0\.50 USD/);
    // Nothing is credited by starting a purchase.
    expect(await poolBalance()).toBe(0);
    // The return page needs no token and says nothing of the account.
    const page = await rawRequest(`${a!.url}/creditgate/v1/checkout/done?purchase=${purchase.id}&result=paid`, { method: 'GET' });
    expect(page.status).toBe(200);
    expect(page.body.toString()).toContain('Payment received');
  }, 60_000);

  it('refuses a member when only admins buy, an unknown pack, and a purchase over the monthly limit, each saying why', async () => {
    const [a] = await instances(1);
    const admin = token('--name', 'ops', '--admin');
    const member = token('--name', 'alice');
    const options = json<PaymentOptions>(await call(a!.url, member, 'GET', '/creditgate/v1/purchases/options'));
    expect(options).toMatchObject({ enabled: true, mayBuy: false });
    expect(options.reason).toMatch(/only admins buy/);
    expect((await call(a!.url, member, 'POST', '/creditgate/v1/purchases', { pack: '500' })).status).toBe(403);
    const unknown = await call(a!.url, admin, 'POST', '/creditgate/v1/purchases', { pack: '7' });
    expect(unknown.status).toBe(400);
    expect(json<{ error: { message: string } }>(unknown).error.message).toMatch(/no pack "7".*500 \(500 credits, 20\.00 USD\)/);
    expect(stripe.sessions.filter((s) => s.metadata.buyer === 'alice')).toHaveLength(0);
  }, 60_000);

  it('lets members buy when the rate card says so, up to the monthly limit (open Checkouts count)', async () => {
    const config = configWithPayments({ buyers: 'members', monthlyLimitUsd: 30, contact: 'ops@example.com' });
    const [a] = await instances(1, { CREDITGATE_CONFIG: config });
    const seat = cli(['seat', 'add', 'alice', '--plan', 'free'], { ...env, CREDITGATE_CONFIG: config });
    const member = seat.stdout.trim().split('\n').at(-1)!;
    const first = await buy(a!.url, member, '500');
    expect(first.seat).toBe('alice');
    expect(stripe.sessions.find((s) => s.id === first.sessionId)!.metadata.seat).toBe('alice');
    const over = await call(a!.url, member, 'POST', '/creditgate/v1/purchases', { pack: '500' });
    expect(over.status).toBe(409);
    expect(over.body.toString()).toMatch(/monthly limit of 30\.00 USD.*ops@example\.com/);
    expect((await buy(a!.url, member, '100')).credits).toBe(100); // 20 + 4 ≤ 30
    // A member lists its own seat's purchases; an admin every one.
    const admin = cli(['token', '--name', 'ops', '--admin'], { ...env, CREDITGATE_CONFIG: config }).stdout.trim().split('\n').at(-1)!;
    expect(json<PurchaseView[]>(await call(a!.url, member, 'GET', '/creditgate/v1/purchases')).map((p) => p.seat)).toEqual(['alice', 'alice']);
    expect(json<PurchaseView[]>(await call(a!.url, admin, 'GET', '/creditgate/v1/purchases'))).toHaveLength(2);
    expect((await call(a!.url, member, 'GET', `/creditgate/v1/purchases/${first.id}`)).status).toBe(200);
  }, 60_000);

  it('says the gateway does not sell credits, and whom to ask, without Stripe keys', async () => {
    const config = configWithPayments({ contact: 'Dana (#platform)' });
    const [a] = await instances(1, { STRIPE_SECRET_KEY: '', STRIPE_WEBHOOK_SECRET: '', CREDITGATE_CONFIG: config });
    const admin = token('--name', 'ops', '--admin');
    const options = json<PaymentOptions>(await call(a!.url, admin, 'GET', '/creditgate/v1/purchases/options'));
    expect(options.enabled).toBe(false);
    expect(options.reason).toMatch(/does not sell credits.*Dana \(#platform\)/);
    const refused = await call(a!.url, admin, 'POST', '/creditgate/v1/purchases', { pack: '500' });
    expect(refused.status).toBe(409);
    expect(refused.body.toString()).toMatch(/does not sell credits/);
    expect(await sql('SELECT id FROM purchases')).toHaveLength(0);
    // A delivery it cannot verify is not acknowledged: Stripe delivers it again once the keys are set.
    const { body, signature } = stripe.delivery(stripe.event('checkout.session.completed', { id: 'cs_x', object: 'checkout.session' }));
    const webhook = await rawRequest(`${a!.url}/creditgate/v1/payments/stripe/webhook`, { headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body });
    expect(webhook.status).toBe(409);
    expect(await poolBalance()).toBe(0);
  }, 60_000);

  it('a Stripe API error: a clear message, no session, no credit, the purchase recorded as failed to open', async () => {
    const [a] = await instances(1);
    const admin = token('--name', 'ops', '--admin');
    stripe.failNext({ status: 400, type: 'invalid_request_error', message: 'Your account cannot currently make live charges.' });
    const res = await call(a!.url, admin, 'POST', '/creditgate/v1/purchases', { pack: '500' });
    expect(res.status).toBe(502);
    expect(res.body.toString()).toMatch(/Stripe could not create the Checkout Session \(Your account cannot currently make live charges\.\)\. Nothing was charged/);
    const rows = await sql<{ state: string; session_id: string | null; failure: string }>('SELECT state, session_id, failure FROM purchases');
    expect(rows).toEqual([expect.objectContaining({ state: 'error', session_id: null })]);
    expect(await poolBalance()).toBe(0);
    // A purchase that failed to open takes nothing of the monthly limit, and the next one works.
    expect((await buy(a!.url, admin)).state).toBe('open');
  }, 60_000);
});

describe('the webhook', () => {
  it('credits a paid session once, with its receipt; the same event again and a second event of the session change nothing', async () => {
    const [a] = await instances(1);
    const admin = token('--name', 'ops', '--admin');
    const purchase = await buy(a!.url, admin, '500');
    const event = paidEvent(purchase);
    const first = await deliver(a!.url, event);
    expect(first.status).toBe(200);
    expect(json<{ result: string }>(first).result).toBe('credited');
    expect(await poolBalance()).toBe(500);
    expect((await deliver(a!.url, event)).status).toBe(200); // the same event again
    expect((await deliver(a!.url, paidEvent(purchase, 'checkout.session.async_payment_succeeded'))).status).toBe(200); // another event, same session
    expect(await poolBalance()).toBe(500);
    expect(await grantCount()).toBe(1);
    const events = await sql<{ id: string }>('SELECT id FROM payment_events');
    expect(events).toHaveLength(2);

    // The charge's receipt link comes with its own event, matched by the PaymentIntent's metadata.
    const session = stripe.sessions.find((s) => s.id === purchase.sessionId)!;
    const charge = { id: 'ch_1', object: 'charge', amount: 2_000, amount_refunded: 0, currency: 'usd', metadata: session.metadata, payment_intent: session.payment_intent, receipt_url: 'https://pay.stripe.com/receipts/r_1' };
    expect((await deliver(a!.url, stripe.event('charge.succeeded', charge))).status).toBe(200);
    const grants = json<GrantRow[]>(await call(a!.url, admin, 'GET', '/creditgate/v1/credits'));
    expect(grants).toEqual([
      expect.objectContaining({ amount: 500, source: 'purchase', payment: expect.objectContaining({ price: 20, currency: 'usd', sessionId: purchase.sessionId, receiptUrl: 'https://pay.stripe.com/receipts/r_1' }) }),
    ]);
    const view = json<PurchaseView>(await call(a!.url, admin, 'GET', `/creditgate/v1/purchases/${purchase.id}`));
    expect(view).toMatchObject({ state: 'paid', receiptUrl: 'https://pay.stripe.com/receipts/r_1', checkoutUrl: null });
  }, 60_000);

  it('refuses a bad signature, a stale timestamp and a body over the limit with nothing credited', async () => {
    const [a] = await instances(1);
    const admin = token('--name', 'ops', '--admin');
    const purchase = await buy(a!.url, admin);
    const event = paidEvent(purchase);
    const forged = await deliver(a!.url, event, { secret: 'whsec_not_the_gateways' });
    expect(forged.status).toBe(400);
    expect(forged.body.toString()).toMatch(/signature/i);
    const stale = await deliver(a!.url, event, { timestamp: Math.floor(Date.now() / 1000) - 10 * 60 });
    expect(stale.status).toBe(400);
    expect(stale.body.toString()).toMatch(/tolerance/i);
    const unsigned = await rawRequest(`${a!.url}/creditgate/v1/payments/stripe/webhook`, { headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) });
    expect(unsigned.status).toBe(400);
    // A signed body that was changed on the way.
    const { body, signature } = stripe.delivery(event);
    const tampered = await rawRequest(`${a!.url}/creditgate/v1/payments/stripe/webhook`, {
      headers: { 'content-type': 'application/json', 'stripe-signature': signature },
      body: body.replace('"amount_total":2000', '"amount_total":2001'),
    });
    expect(tampered.status).toBe(400);
    const huge = stripe.event('checkout.session.completed', { ...sessionObject(purchase), padding: 'x'.repeat(300 * 1024) });
    expect((await deliver(a!.url, huge)).status).toBe(413);
    expect(await poolBalance()).toBe(0);
    expect(await sql('SELECT id FROM payment_events')).toHaveLength(0);
    // The genuine delivery still works afterwards (also at the path this gateway first used).
    const { body: aliasBody, signature: aliasSignature } = stripe.delivery(event);
    const alias = await rawRequest(`${a!.url}/creditgate/v1/stripe/webhook`, { headers: { 'content-type': 'application/json', 'stripe-signature': aliasSignature }, body: aliasBody });
    expect(alias.status).toBe(200);
    expect((await deliver(a!.url, event)).status).toBe(200);
    expect(await poolBalance()).toBe(500);
  }, 60_000);

  it('credits once whichever order completed and async_payment_succeeded arrive in; an unpaid completion credits nothing', async () => {
    const [a] = await instances(1);
    const admin = token('--name', 'ops', '--admin');
    // Bank debit: completed unpaid first, then the money.
    const slow = await buy(a!.url, admin, '100');
    expect((await deliver(a!.url, stripe.event('checkout.session.completed', sessionObject(slow, { payment_status: 'unpaid' })))).status).toBe(200);
    expect(await poolBalance()).toBe(0);
    expect((await deliver(a!.url, paidEvent(slow, 'checkout.session.async_payment_succeeded'))).status).toBe(200);
    expect(await poolBalance()).toBe(100);
    // Out of order: the success first, then a (paid) completion.
    const other = await buy(a!.url, admin, '500');
    expect((await deliver(a!.url, paidEvent(other, 'checkout.session.async_payment_succeeded'))).status).toBe(200);
    expect((await deliver(a!.url, paidEvent(other, 'checkout.session.completed'))).status).toBe(200);
    expect(await poolBalance()).toBe(600);
    expect(await grantCount()).toBe(2);
  }, 60_000);

  it('a failed async payment tells the buyer (the purchase says so) and credits nothing; an unknown event type is 2xx and ignored', async () => {
    const [a] = await instances(1);
    const admin = token('--name', 'ops', '--admin');
    const purchase = await buy(a!.url, admin);
    expect((await deliver(a!.url, stripe.event('checkout.session.completed', sessionObject(purchase, { payment_status: 'unpaid' })))).status).toBe(200);
    expect((await deliver(a!.url, stripe.event('checkout.session.async_payment_failed', sessionObject(purchase, { payment_status: 'unpaid' })))).status).toBe(200);
    const view = json<PurchaseView>(await call(a!.url, admin, 'GET', `/creditgate/v1/purchases/${purchase.id}`));
    expect(view.state).toBe('failed');
    expect(view.failure).toMatch(/did not go through.*No credits were added/);
    expect(await poolBalance()).toBe(0);
    // A Checkout left unpaid expires: the purchase says so, and it stops counting as open.
    const abandoned = await buy(a!.url, admin, '100');
    expect((await deliver(a!.url, stripe.event('checkout.session.expired', sessionObject(abandoned, { status: 'expired', payment_status: 'unpaid' })))).status).toBe(200);
    expect(json<PurchaseView>(await call(a!.url, admin, 'GET', `/creditgate/v1/purchases/${abandoned.id}`))).toMatchObject({ state: 'expired', checkoutUrl: null });
    const unknown = await deliver(a!.url, stripe.event('customer.created', { id: 'cus_1', object: 'customer' }));
    expect(unknown.status).toBe(200);
    expect(json<{ result: string }>(unknown).result).toBe('ignored');
    // A session of another system on the same Stripe account (no Creditgate purchase in its metadata).
    const foreign = stripe.event('checkout.session.completed', { ...sessionObject(purchase), id: 'cs_other', metadata: {}, client_reference_id: null });
    expect(json<{ result: string }>(await deliver(a!.url, foreign)).result).toBe('ignored');
    expect(await poolBalance()).toBe(0);
  }, 60_000);

  it('20 deliveries of one event at once, spread over 2 instances, credit exactly once', async () => {
    const [a, b] = await instances(2);
    const admin = token('--name', 'ops', '--admin');
    const purchase = await buy(a!.url, admin, '1000');
    const event = paidEvent(purchase);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => deliver([a!, b!][i % 2]!.url, event)));
    expect(answers.map((res) => res.status)).toEqual(Array(20).fill(200));
    expect(answers.filter((res) => json<{ result: string }>(res).result === 'credited')).toHaveLength(20);
    expect(await poolBalance()).toBe(1000);
    expect(await grantCount()).toBe(1);
    expect(await sql('SELECT id FROM payment_events')).toHaveLength(1);
    expect(cli(['verify'], env).status).toBe(0);
  }, 60_000);
});

describe('refunds', () => {
  /** The `charge.refunded` event of a purchase's charge, `refunded` cents refunded so far. */
  function refundEvent(purchase: PurchaseView, refunded: number): object {
    const session = stripe.sessions.find((s) => s.id === purchase.sessionId)!;
    const charge = { id: `ch_${purchase.id.slice(0, 8)}`, object: 'charge', amount: session.amount_total, amount_refunded: refunded, currency: 'usd', metadata: session.metadata, payment_intent: session.payment_intent, receipt_url: null, refunded: refunded === session.amount_total };
    return stripe.event('charge.refunded', charge);
  }

  it('take the refunded share back (repeats take nothing more); a full refund can drive the pool negative, blocking the seat until it is positive again', async () => {
    const config = configWithPayments({ buyers: 'members' });
    const [a] = await instances(1, { CREDITGATE_CONFIG: config });
    const admin = token('--name', 'ops', '--admin');
    const member = cli(['seat', 'add', 'alice', '--plan', 'free'], { ...env, CREDITGATE_CONFIG: config }).stdout.trim().split('\n').at(-1)!;
    const purchase = await buy(a!.url, admin, '100');

    // Refunded before its payment event arrived: not applied, for Stripe to deliver again.
    const early = refundEvent(purchase, 100);
    expect((await deliver(a!.url, early)).status).toBe(409);
    expect((await deliver(a!.url, paidEvent(purchase))).status).toBe(200);
    expect(await poolBalance()).toBe(100);

    // The seat spends some of the pool.
    const chat = (): Promise<RawResponse> =>
      rawRequest(`${a!.url}/v1/chat/completions`, {
        headers: { authorization: `Bearer ${member}`, 'content-type': 'application/json', 'x-fake-usage': JSON.stringify({ input_tokens: 1_000_000, output_tokens: 0 }) },
        body: JSON.stringify({ model: 'gpt-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
      });
    expect((await chat()).status).toBe(200);
    await eventually(async () => expect(await poolBalance()).toBeLessThan(100));
    const afterSpend = await poolBalance();

    // 1.00 of 4.00 USD refunded (Stripe retried the early delivery): a quarter of the credits back.
    expect(json<{ result: string }>(await deliver(a!.url, early)).result).toBe('refunded');
    expect(await poolBalance()).toBeCloseTo(afterSpend - 25, 6);
    expect((await deliver(a!.url, early)).status).toBe(200); // again: nothing more
    expect(await poolBalance()).toBeCloseTo(afterSpend - 25, 6);

    // The rest refunded: all 100 credits are gone, more than the pool holds.
    expect((await deliver(a!.url, refundEvent(purchase, 400))).status).toBe(200);
    expect(await poolBalance()).toBeCloseTo(afterSpend - 100, 6);
    expect(await poolBalance()).toBeLessThan(0);
    expect((await chat()).status).toBe(429);
    const view = json<PurchaseView>(await call(a!.url, admin, 'GET', `/creditgate/v1/purchases/${purchase.id}`));
    expect(view).toMatchObject({ refundedCredits: 100, refundedPrice: 4 });
    const [refunds] = await sql<{ n: string; total: string }>('SELECT count(*) AS n, sum(amount) AS total FROM refunds');
    expect(refunds).toEqual({ n: '2', total: String(100 * 1e6) });

    // A new purchase repays the debt first; the seat is admitted once the pool is positive.
    const more = await buy(a!.url, admin, '500');
    expect((await deliver(a!.url, paidEvent(more))).status).toBe(200);
    expect(await poolBalance()).toBeCloseTo(afterSpend + 400, 6);
    expect((await chat()).status).toBe(200);
    // The ledger's own check: every total matches its rows after the grants, the spending and the refunds.
    expect(cli(['verify'], { ...env, CREDITGATE_CONFIG: config }).status).toBe(0);
  }, 60_000);

  it('two refunds of one charge handled at once by two instances take back exactly the refunded share, however they interleave', async () => {
    const [a, b] = await instances(2);
    const admin = token('--name', 'ops', '--admin');
    const purchase = await buy(a!.url, admin, '1000'); // 40.00 USD
    expect((await deliver(a!.url, paidEvent(purchase))).status).toBe(200);
    // Stripe's deliveries of the 10.00, 25.00 and 40.00 refunds, each twice, all at once; those not applied are delivered again.
    let pending = [1_000, 2_500, 4_000, 1_000, 2_500, 4_000].map((cents) => refundEvent(purchase, cents));
    for (let round = 0; pending.length > 0 && round < 20; round++) {
      const answers = await Promise.all(pending.map((event, i) => deliver([a!, b!][i % 2]!.url, event)));
      expect(answers.filter((res) => res.status !== 200 && res.status !== 409).map((res) => res.body.toString())).toEqual([]);
      pending = pending.filter((_, i) => answers[i]!.status !== 200);
    }
    expect(pending).toHaveLength(0);
    expect(await poolBalance()).toBe(0);
    const [refunds] = await sql<{ total: string }>('SELECT sum(amount) AS total FROM refunds');
    expect(Number(refunds!.total) / 1e6).toBe(1000);
    expect(cli(['verify'], env).status).toBe(0);
  }, 60_000);
});

describe('a blocked seat buys credits', () => {
  it('sees the new pool pushed within 1 s of the webhook, on another instance too, and its next request is admitted', async () => {
    const config = configWithPayments({ buyers: 'members' });
    const [a, b] = await instances(2, { CREDITGATE_CONFIG: config });
    const member = cli(['seat', 'add', 'alice', '--plan', 'free'], { ...env, CREDITGATE_CONFIG: config }).stdout.trim().split('\n').at(-1)!;
    const chat = (): Promise<RawResponse> =>
      rawRequest(`${b!.url}/v1/chat/completions`, {
        headers: { authorization: `Bearer ${member}`, 'content-type': 'application/json', 'x-fake-usage': JSON.stringify({ input_tokens: 100, output_tokens: 40 }) },
        body: JSON.stringify({ model: 'gpt-5', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }),
      });
    expect((await chat()).status).toBe(429);

    const { balances, stop } = followBalances(b!.url, member);
    await eventually(() => expect(balances.length).toBeGreaterThan(0), 5_000);

    const purchase = await buy(a!.url, member, '100');
    const started = Date.now();
    expect((await deliver(a!.url, paidEvent(purchase))).status).toBe(200);
    await eventually(() => expect(balances.at(-1)).toBe(100), 1_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    stop();
    const next = await chat();
    expect(next.status).toBe(200);
    expect(next.headers['x-creditgate-state']).toBe('credits');
  }, 60_000);
});

describe('the CLI', () => {
  it('`credits buy PACK` prints the Checkout URL; `credits list` shows the purchase with its price, session and receipt', async () => {
    const [a] = await instances(1);
    const bought = await cliAsync(['credits', 'buy', '500']);
    expect(bought.status, bought.stderr).toBe(0);
    const checkoutUrl = bought.stdout.trim().split('\n').at(-1)!;
    expect(checkoutUrl).toMatch(/^https:\/\/checkout\.stripe\.com\/c\/pay\/cs_test_/);
    const session = stripe.sessions.find((s) => s.url === checkoutUrl)!;
    expect(session.metadata).toMatchObject({ buyer: 'cli', credits: '500' });
    const [purchase] = await sql<{ id: string }>('SELECT id FROM purchases WHERE session_id = $1', [session.id]);
    const view = { id: purchase!.id, sessionId: session.id } as PurchaseView;
    expect((await deliver(a!.url, paidEvent(view))).status).toBe(200);
    const charge = { id: 'ch_cli', object: 'charge', amount: 2_000, amount_refunded: 0, currency: 'usd', metadata: session.metadata, payment_intent: session.payment_intent, receipt_url: 'https://pay.stripe.com/receipts/cli' };
    expect((await deliver(a!.url, stripe.event('charge.updated', charge))).status).toBe(200);

    const listed = cli(['credits', 'list'], env);
    expect(listed.stdout).toContain(`paid 20.00 USD, Stripe session ${session.id}, receipt https://pay.stripe.com/receipts/cli`);
    const grants = JSON.parse(cli(['credits', 'list', '--json'], env).stdout) as GrantRow[];
    expect(grants[0]!.payment).toMatchObject({ price: 20, sessionId: session.id, receiptUrl: 'https://pay.stripe.com/receipts/cli' });

    const unknownPack = await cliAsync(['credits', 'buy', '3']);
    expect(unknownPack.status).toBe(2);
    expect(unknownPack.stderr).toMatch(/no pack "3"/);
    const noKeys = await cliAsync(['credits', 'buy', '500'], { STRIPE_SECRET_KEY: '', STRIPE_WEBHOOK_SECRET: '' });
    expect(noKeys.status).toBe(2);
    expect(noKeys.stderr).toMatch(/does not sell credits/);
    const individual = await cliAsync(['credits', 'buy', '500'], { CREDITGATE_DATABASE_URL: '' });
    expect(individual.status).toBe(2);
    expect(individual.stderr).toMatch(/team ledger/);
  }, 60_000);
});

describe('the database away', () => {
  it('a webhook is answered 503 while the database is down (Stripe delivers it again), and the redelivery credits once', async () => {
    const [a] = await instances(1);
    const admin = token('--name', 'ops', '--admin');
    const purchase = await buy(a!.url, admin, '500');
    const event = paidEvent(purchase);
    server.stopServer();
    try {
      const refused = await deliver(a!.url, event);
      expect(refused.status).toBe(503);
      expect((await call(a!.url, admin, 'POST', '/creditgate/v1/purchases', { pack: '100' })).status).toBe(503);
    } finally {
      server.startServer();
    }
    await eventually(async () => expect((await deliver(a!.url, event)).status).toBe(200), 20_000);
    expect((await deliver(a!.url, event)).status).toBe(200);
    expect(await poolBalance()).toBe(500);
    expect(await grantCount()).toBe(1);
  }, 60_000);
});

describe('secrets', () => {
  it('never writes the Stripe keys to the logs or the database', async () => {
    const [a] = await instances(1);
    const admin = token('--name', 'ops', '--admin');
    stripe.failNext({ status: 401, type: 'invalid_request_error', message: `Invalid API Key provided: ${stripe.secretKey}` });
    expect((await call(a!.url, admin, 'POST', '/creditgate/v1/purchases', { pack: '500' })).status).toBe(502);
    const purchase = await buy(a!.url, admin);
    await deliver(a!.url, paidEvent(purchase));
    await deliver(a!.url, paidEvent(purchase), { secret: 'whsec_wrong' });
    const dump = JSON.stringify(await sql('SELECT * FROM purchases')) + JSON.stringify(await sql('SELECT * FROM audit')) + JSON.stringify(await sql('SELECT * FROM payment_events'));
    for (const secret of [stripe.secretKey, stripe.webhookSecret]) {
      expect(dump).not.toContain(secret);
      expect(a!.stderr()).not.toContain(secret);
    }
    expect(dump).toContain('[redacted]');
  }, 60_000);
});
