/**
 * The editor's Add Credits on a team gateway (issue 11), in process: the extension's own purchase
 * flow (extension/team/teamPurchase.ts) and team connection (the status bar's source), against real
 * `creditgate serve` processes on a real PostgreSQL server whose `stripe` package talks to a local
 * fake of Stripe's API. The test plays the user (picks a pack, cancels) and Stripe (pays: a signed
 * webhook once the Checkout page was "opened"). Blocked seat → Add Credits → the status shows the
 * new pool within 1 s → the next request is admitted.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { canBuyCredits, type AccountConnection } from '../extension/accountConnection';
import { paymentSummary } from '../extension/presentation/purchase';
import { statusText } from '../extension/presentation/statusBarModel';
import { ListCreditsRequest } from '../shared/rpc';
import { buyTeamCredits, type PurchaseUi } from '../extension/team/teamPurchase';
import { TeamGatewayConnection } from '../extension/team/teamConnection';
import type { SalePack } from '../shared/payments';
import { rawRequest, type FakeUpstream, type RawResponse } from './fake-upstream';
import { publicSession, type FakeStripe } from './fake-stripe/server';
import { cli, killServeProcesses, serve, teamEnv, type ServeProcess } from './helpers/cliProcess';
import type { PostgresServer } from './helpers/postgres';
import { queryDatabase } from './helpers/postgres';
import { startPaymentsBackends, type PaymentsBackends } from './helpers/paymentsBackends';
import { eventually } from './helpers/testGateway';

let server: PostgresServer;
let upstream: FakeUpstream;
let stripe: FakeStripe;
let env: NodeJS.ProcessEnv;
let url: string;
const running: ServeProcess[] = [];
const connections: TeamGatewayConnection[] = [];

let backends: PaymentsBackends;

beforeAll(async () => {
  backends = await startPaymentsBackends();
  ({ server, upstream, stripe } = backends);
}, 120_000);
afterAll(() => backends.close());

beforeEach(async () => {
  url = await server.createDatabase();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'creditgate-payui-'));
  const card = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../shared/default-rate-card.json'), 'utf8')) as object;
  const config = path.join(dataDir, 'config.json');
  fs.writeFileSync(config, JSON.stringify({ rateCard: { ...card, payments: { buyers: 'members', contact: 'Dana on #platform' } } }));
  env = teamEnv(url, upstream.url, { ...stripe.env, CREDITGATE_DATA_DIR: dataDir, CREDITGATE_CONFIG: config });
});

afterEach(async () => {
  for (const connection of connections.splice(0)) await connection.stop();
  await killServeProcesses(running);
});

async function gateway(extraEnv: NodeJS.ProcessEnv = {}): Promise<ServeProcess> {
  const started = await serve([], { ...env, ...extraEnv });
  running.push(started);
  return started;
}

/** A blocked seat (plan `free`, empty pool) and the editor attached to the gateway with its token. */
async function attachedMember(base: string): Promise<{ connection: TeamGatewayConnection; member: string }> {
  const member = cli(['seat', 'add', 'alice', '--plan', 'free'], env).stdout.trim().split('\n').at(-1)!;
  const connection = new TeamGatewayConnection({ url: base, token: member, log: { info: () => undefined, warn: () => undefined }, backoff: { initialMs: 100, maxMs: 400 } });
  connections.push(connection);
  connection.start();
  await eventually(() => expect(connection.phase).toBe('connected'), 5_000);
  return { connection, member };
}

function chat(base: string, bearer: string): Promise<RawResponse> {
  return rawRequest(`${base}/v1/chat/completions`, {
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', 'x-fake-usage': JSON.stringify({ input_tokens: 100, output_tokens: 40 }) },
    body: JSON.stringify({ model: 'gpt-5', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }),
  });
}

/** Stripe's signed delivery of `type` for the session behind a Checkout URL. */
function deliver(base: string, checkoutUrl: string, type: string, paid = true): Promise<RawResponse> {
  const session = stripe.sessions.find((s) => s.url === checkoutUrl)!;
  const event = stripe.event(type, publicSession(session, { status: 'complete', payment_status: paid ? 'paid' : 'unpaid' }));
  const { body, signature } = stripe.delivery(event);
  return rawRequest(`${base}/creditgate/v1/payments/stripe/webhook`, { headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body });
}

interface ScriptedUi extends PurchaseUi {
  opened: string[];
  infos: string[];
  errors: string[];
  progressTitles: string[];
}

/** The user's side: picks the pack `wanted`, lets `onOpen` play Stripe, cancels the wait when `cancelAfterMs` is given. */
function scriptedUi(wanted: string, onOpen: (url: string) => Promise<void> = () => Promise.resolve(), cancelAfterMs?: number): ScriptedUi {
  const ui: ScriptedUi = {
    opened: [],
    infos: [],
    errors: [],
    progressTitles: [],
    pickPack: (packs: SalePack[]) => Promise.resolve(packs.find((pack) => pack.id === wanted)),
    async openExternal(checkoutUrl) {
      ui.opened.push(checkoutUrl);
      await onOpen(checkoutUrl);
      return true;
    },
    withProgress(title, wait) {
      ui.progressTitles.push(title);
      const cancel = new AbortController();
      if (cancelAfterMs !== undefined) setTimeout(() => cancel.abort(), cancelAfterMs);
      return wait(cancel.signal);
    },
    info: (message) => void ui.infos.push(message),
    error: (message) => void ui.errors.push(message),
  };
  return ui;
}

describe('Add Credits attached to a team gateway', () => {
  it('blocked seat → Add Credits → Stripe Checkout → the status shows the new pool within 1 s → the next request is admitted', async () => {
    const instance = await gateway();
    const { connection, member } = await attachedMember(instance.url);
    expect(connection.status).toMatchObject({ state: 'blocked', role: 'member', mayBuyCredits: true });
    // The palette offers Add Credits to this member (package.json: canChangeAccount || canBuyCredits), and the bar says so.
    expect(canBuyCredits({ server: instance.url, status: connection.status } as AccountConnection)).toBe(true);
    expect(statusText(connection.status!)).toBe('Add credits');
    expect((await chat(instance.url, member)).status).toBe(429);

    let paidAt = 0;
    let shownAt = 0;
    connection.onStatus((pushed) => {
      if (pushed.credits.balance === 100 && shownAt === 0) shownAt = Date.now();
    });
    const ui = scriptedUi('100', async (checkoutUrl) => {
      // Stripe's side: the user pays on the Checkout page a moment later, and Stripe calls the webhook.
      await new Promise((resolve) => setTimeout(resolve, 200));
      paidAt = Date.now();
      expect((await deliver(instance.url, checkoutUrl, 'checkout.session.completed')).status).toBe(200);
    });
    const end = await buyTeamCredits(connection.requests, ui, { pollMs: 200 });
    expect(end).toBe('paid');
    expect(ui.opened).toEqual([expect.stringMatching(/^https:\/\/checkout\.stripe\.com\/c\/pay\/cs_test_/)]);
    expect(ui.progressTitles).toEqual(['Waiting for the payment…']);
    expect(ui.infos).toEqual([expect.stringContaining('payment received, 100 credits added to the team pool')]);
    // Pushed, not polled: the connection's status (the status bar's) moved within 1 s of the webhook.
    await eventually(() => expect(shownAt).toBeGreaterThan(0), 1_000);
    expect(shownAt - paidAt).toBeLessThan(1_000);
    expect(statusText(connection.status!)).toBe('On credits · pool 100 cr');
    const next = await chat(instance.url, member);
    expect(next.status).toBe(200);

    // The usage panel's purchases: the grant with its price, session and (once Stripe sends the charge) receipt link.
    const session = stripe.sessions.find((s) => s.url === ui.opened[0])!;
    const charge = { id: 'ch_ui', object: 'charge', amount: 400, amount_refunded: 0, currency: 'usd', metadata: session.metadata, payment_intent: session.payment_intent, receipt_url: 'https://pay.stripe.com/receipts/ui' };
    const { body, signature } = stripe.delivery(stripe.event('charge.succeeded', charge));
    await rawRequest(`${instance.url}/creditgate/v1/payments/stripe/webhook`, { headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body });
    const grants = await connection.requests.request(ListCreditsRequest);
    expect(grants.map(paymentSummary)).toEqual([{ text: `4.00 USD · Stripe ${session.id}`, receiptUrl: 'https://pay.stripe.com/receipts/ui' }]);
  }, 60_000);

  it('a gateway without Stripe keys: Add Credits explains it does not sell credits and whom to ask; nothing opens', async () => {
    const instance = await gateway({ STRIPE_SECRET_KEY: '', STRIPE_WEBHOOK_SECRET: '' });
    const { connection } = await attachedMember(instance.url);
    expect(connection.status?.mayBuyCredits).toBe(false);
    expect(statusText(connection.status!)).toBe('Blocked · pool 0 cr');
    const ui = scriptedUi('100');
    expect(await buyTeamCredits(connection.requests, ui)).toBe('not_offered');
    expect(ui.errors).toEqual([expect.stringMatching(/does not sell credits.*Ask your team's Creditgate admin: Dana on #platform/)]);
    expect(ui.opened).toEqual([]);
  }, 60_000);

  it('a Stripe API error: a clear message, no Checkout opened, nothing credited', async () => {
    const instance = await gateway();
    const { connection } = await attachedMember(instance.url);
    stripe.failNext({ status: 400, type: 'invalid_request_error', message: 'Amount must convert to at least 50 cents.' });
    const ui = scriptedUi('100');
    expect(await buyTeamCredits(connection.requests, ui)).toBe('not_started');
    expect(ui.errors).toEqual([expect.stringMatching(/could not start.*Amount must convert to at least 50 cents.*Nothing was charged and no credits were added/)]);
    expect(ui.opened).toEqual([]);
    expect(await queryDatabase<{ state: string }>(url, 'SELECT state FROM purchases')).toEqual([{ state: 'error' }]);
    expect(connection.status!.credits.balance).toBe(0);
  }, 60_000);

  it('a declined bank payment ends the wait with the reason; cancelling the wait says the credits still come if paid', async () => {
    const instance = await gateway();
    const { connection } = await attachedMember(instance.url);
    const declined = scriptedUi('100', async (checkoutUrl) => {
      expect((await deliver(instance.url, checkoutUrl, 'checkout.session.completed', false)).status).toBe(200);
      expect((await deliver(instance.url, checkoutUrl, 'checkout.session.async_payment_failed', false)).status).toBe(200);
    });
    expect(await buyTeamCredits(connection.requests, declined, { pollMs: 100 })).toBe('failed');
    expect(declined.errors).toEqual([expect.stringMatching(/payment for 100 credits for 4\.00 USD failed\. The payment did not go through/)]);

    const patient = scriptedUi('500', () => Promise.resolve(), 300);
    expect(await buyTeamCredits(connection.requests, patient, { pollMs: 100 })).toBe('cancelled');
    expect(patient.infos).toEqual([expect.stringContaining('stopped waiting. If you complete the payment for 500 credits for 20.00 USD, the credits still reach the pool')]);
    expect(connection.status!.credits.balance).toBe(0);
  }, 60_000);
});
