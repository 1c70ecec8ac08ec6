/**
 * A local fake of the part of Stripe's HTTP API Creditgate calls: `POST /v1/checkout/sessions`
 * (form-encoded, as stripe-node sends it, with its Idempotency-Key honoured as Stripe does: the same
 * key answers the same session) and `GET /v1/checkout/sessions/{id}`. The gateway reaches it through
 * the real `stripe` package (its host/port/protocol options, CREDITGATE_STRIPE_API_URL), never a
 * hand-made client. The tests then play Stripe's side of the webhook with events built here and
 * signed by `stripe.webhooks.generateTestHeaderString`.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';

export interface FakeSession {
  id: string;
  object: 'checkout.session';
  mode: string;
  status: 'open' | 'complete' | 'expired';
  payment_status: 'unpaid' | 'paid';
  amount_total: number;
  currency: string;
  client_reference_id: string | null;
  metadata: Record<string, string>;
  payment_intent: string;
  url: string;
  expires_at: number;
  success_url: string;
  cancel_url: string;
  /** What the gateway sent, as parsed from the form: for assertions. */
  request: Record<string, unknown>;
  idempotencyKey: string | null;
}

export interface FakeStripe {
  url: string;
  secretKey: string;
  webhookSecret: string;
  /** What a gateway's environment needs to sell credits through this fake. */
  env: NodeJS.ProcessEnv;
  sessions: FakeSession[];
  /** Create calls received, counting those answered from the idempotency cache. */
  createCalls: number;
  /** The next create calls fail with this Stripe error (status, type, message), once each. */
  failNext(error: { status: number; type: string; message: string }): void;
  /** A signed webhook delivery: the body and its Stripe-Signature header. */
  delivery(event: object, options?: { timestamp?: number; secret?: string }): { body: string; signature: string };
  event(type: string, object: object, id?: string): { id: string; object: 'event'; type: string; created: number; data: { object: object } };
  close(): Promise<void>;
}

/** Parses stripe-node's form encoding (`a[b][0][c]=v`) into nested objects and arrays. */
export function parseForm(body: string): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const path = key.split(/\[|\]\[|\]/).filter((part) => part !== '');
    let node: Record<string, unknown> = root;
    path.forEach((part, i) => {
      if (i === path.length - 1) node[part] = value;
      else node = (node[part] ??= {}) as Record<string, unknown>;
    });
  }
  return root;
}

const webhooks = new Stripe('sk_test_signing_only').webhooks;

export async function startFakeStripe(): Promise<FakeStripe> {
  const secretKey = `sk_test_${randomBytes(12).toString('hex')}`;
  const webhookSecret = `whsec_${randomBytes(16).toString('hex')}`;
  const sessions: FakeSession[] = [];
  const byKey = new Map<string, FakeSession>();
  const failures: { status: number; type: string; message: string }[] = [];
  let createCalls = 0;

  const send = (res: http.ServerResponse, status: number, body: unknown): void => {
    const payload = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_${randomBytes(6).toString('hex')}` });
    res.end(payload);
  };

  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.headers.authorization !== `Bearer ${secretKey}`) {
        return send(res, 401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided: sk_test_****' } });
      }
      const path = (req.url ?? '').split('?')[0]!;
      if (req.method === 'POST' && path === '/v1/checkout/sessions') {
        fake.createCalls = ++createCalls;
        const failure = failures.shift();
        if (failure) return send(res, failure.status, { error: { type: failure.type, message: failure.message } });
        const key = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : null;
        const cached = key === null ? undefined : byKey.get(key);
        if (cached) return send(res, 200, publicSession(cached));
        const form = parseForm(body);
        const items = form.line_items as Record<string, { price_data: { unit_amount: string; currency: string }; quantity: string }>;
        const item = items['0']!;
        const id = `cs_test_${randomBytes(12).toString('hex')}`;
        const session: FakeSession = {
          id,
          object: 'checkout.session',
          mode: String(form.mode),
          status: 'open',
          payment_status: 'unpaid',
          amount_total: Number(item.price_data.unit_amount) * Number(item.quantity),
          currency: item.price_data.currency,
          client_reference_id: (form.client_reference_id as string | undefined) ?? null,
          metadata: (form.metadata as Record<string, string> | undefined) ?? {},
          payment_intent: `pi_${randomBytes(12).toString('hex')}`,
          url: `https://checkout.stripe.com/c/pay/${id}`,
          expires_at: Number(form.expires_at ?? Math.floor(Date.now() / 1000) + 86_400),
          success_url: String(form.success_url),
          cancel_url: String(form.cancel_url),
          request: form,
          idempotencyKey: key,
        };
        sessions.push(session);
        if (key !== null) byKey.set(key, session);
        return send(res, 200, publicSession(session));
      }
      const retrieve = /^\/v1\/checkout\/sessions\/([^/]+)$/.exec(path);
      const found = retrieve && req.method === 'GET' ? sessions.find((s) => s.id === retrieve[1]) : undefined;
      if (found) return send(res, 200, publicSession(found));
      send(res, 404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${path})` } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const fake: FakeStripe = {
    url,
    secretKey,
    webhookSecret,
    env: { STRIPE_SECRET_KEY: secretKey, STRIPE_WEBHOOK_SECRET: webhookSecret, CREDITGATE_STRIPE_API_URL: url },
    sessions,
    createCalls: 0,
    failNext: (error) => void failures.push(error),
    event: (type, object, id = `evt_${randomBytes(12).toString('hex')}`) => ({ id, object: 'event', type, created: Math.floor(Date.now() / 1000), data: { object } }),
    delivery(event, options = {}) {
      const body = JSON.stringify(event);
      const signature = webhooks.generateTestHeaderString({ payload: body, secret: options.secret ?? webhookSecret, timestamp: options.timestamp });
      return { body, signature };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return fake;
}

/** The session as Stripe's API and events show it (without the fake's bookkeeping). */
export function publicSession(session: FakeSession, changes: Partial<FakeSession> = {}): object {
  const { request: _request, idempotencyKey: _key, ...shown } = { ...session, ...changes };
  return shown;
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The page a browser shows at a session's Checkout URL, for a test that opens one in a real browser
 * (the real-editor test answers checkout.stripe.com with it: there is no internet here, and a page
 * saying which session it is makes the screenshot checkable). Paying is the test's own move: it plays
 * Stripe's webhook, as the real page would make Stripe do.
 */
export function checkoutPage(session: FakeSession): string {
  const product = (session.request.line_items as Record<string, { price_data: { product_data: { name: string } } }> | undefined)?.['0']?.price_data.product_data.name ?? '';
  const amount = `${(session.amount_total / 100).toFixed(2)} ${session.currency.toUpperCase()}`;
  return `<!doctype html><html><head><meta charset="utf-8"><title>Fake Stripe Checkout</title></head>
<body style="font-family: sans-serif; margin: 3em">
<h1>Fake Stripe Checkout</h1>
<p id="product">${escapeHtml(product)}</p>
<p id="amount" style="font-size: 2em">${escapeHtml(amount)}</p>
<p>Session <code id="session">${escapeHtml(session.id)}</code> · seat ${escapeHtml(session.metadata.seat ?? '')} · ${escapeHtml(session.metadata.credits ?? '')} credits</p>
</body></html>`;
}
