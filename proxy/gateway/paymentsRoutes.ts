/**
 * The team gateway's payment routes (issue 11):
 * - `POST /creditgate/v1/payments/stripe/webhook`: Stripe's deliveries; no gateway token, the Stripe signature
 *   authenticates (payments/webhook.ts). 2xx once handled (or ignored), 400 for a bad signature or
 *   body, 413 over the size limit, 5xx when the ledger could not write it (Stripe then retries).
 * - `GET /creditgate/v1/checkout/done`: the page Stripe sends the buyer back to; it says nothing of
 *   the account, so it needs no token either.
 * - `GET /creditgate/v1/purchases/options`, `POST /creditgate/v1/purchases {"pack"}`,
 *   `GET /creditgate/v1/purchases[/ID]`: with a token; who may buy is the rate card's `payments.buyers`
 *   (not the own API's admin-only rule for changes, since a member may be allowed to buy).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { startPurchaseSchema } from '../../shared/payments';
import { describeIssues } from '../../shared/rateCard';
import type { AuthenticatedClient } from '../ledger/tokens';
// Only the errors module and types: a gateway on the SQLite file loads neither pg nor stripe (errors.ts).
import { isRefundRace, PaymentNotYetKnown, PurchaseRefused, StripeFailure, WEBHOOK_BODY_LIMIT, WebhookRefused } from '../payments/errors';
import type { Payments } from '../payments/service';
import type { GatewayContext, RequestUrl } from './context';
import { BodyTooLargeError, declaredTooLarge, readBody } from './requestBody';
import { sendError, sendJson } from './respond';

/** Where Stripe delivers (docs/product.md §8, contract); the first path this branch used stays an alias. */
export const WEBHOOK_PATH = '/creditgate/v1/payments/stripe/webhook';
const WEBHOOK_ALIAS = '/creditgate/v1/stripe/webhook';
export const CHECKOUT_RETURN_PATH = '/creditgate/v1/checkout/done';
const PURCHASES_PATH = '/creditgate/v1/purchases';

/** Whether the path is a payment route that answers without a gateway token. */
export function isTokenlessPaymentRoute(pathname: string): boolean {
  return pathname === WEBHOOK_PATH || pathname === WEBHOOK_ALIAS || pathname === CHECKOUT_RETURN_PATH;
}

export function isPurchaseRoute(pathname: string): boolean {
  return pathname === PURCHASES_PATH || pathname.startsWith(`${PURCHASES_PATH}/`);
}

export async function handleTokenlessPaymentRoute(ctx: GatewayContext, req: IncomingMessage, res: ServerResponse, url: RequestUrl): Promise<void> {
  if (url.pathname === CHECKOUT_RETURN_PATH && req.method === 'GET') return sendReturnPage(res, url);
  if ((url.pathname !== WEBHOOK_PATH && url.pathname !== WEBHOOK_ALIAS) || req.method !== 'POST') return sendError(res, null, 'not_found', `No such route: ${req.method} ${url.pathname}`);
  const payments = ctx.payments;
  if (!payments) return sendError(res, null, 'not_found', 'This gateway takes no payments: Stripe webhooks go to a team gateway (creditgate serve --database URL).');
  if (declaredTooLarge(req, WEBHOOK_BODY_LIMIT)) {
    res.setHeader('connection', 'close');
    return sendError(res, null, 'too_large', `Webhook body exceeds ${WEBHOOK_BODY_LIMIT} bytes.`);
  }
  let raw: Buffer;
  try {
    raw = await readBody(req, WEBHOOK_BODY_LIMIT);
  } catch (error) {
    if (!(error instanceof BodyTooLargeError)) return; // the sender went away
    res.setHeader('connection', 'close');
    return sendError(res, null, 'too_large', `Webhook body exceeds ${WEBHOOK_BODY_LIMIT} bytes.`);
  }
  try {
    const outcome = await payments.receive(raw, req.headers['stripe-signature']);
    // The pool changed: this instance's editors hear it now, the others' through the ledger's NOTIFY.
    if ((outcome.result === 'credited' || outcome.result === 'refunded') && !outcome.duplicate) ctx.feed.changed();
    if (outcome.result === 'ignored') ctx.log.info(`Stripe webhook ignored: ${outcome.reason}`);
    sendJson(res, 200, { received: true, result: outcome.result });
  } catch (error) {
    if (error instanceof WebhookRefused) {
      ctx.log.warn(`Stripe webhook refused: ${error.message}`);
      return sendError(res, null, 'invalid_request', `Webhook refused: ${error.message}`);
    }
    if (error instanceof PaymentNotYetKnown || isRefundRace(error)) {
      ctx.log.info(`Stripe webhook deferred: ${(error as Error).message}`);
      return sendError(res, null, 'conflict', `Not applied yet: ${(error as Error).message}. Deliver it again later.`);
    }
    throw error; // the ledger's failure: a 5xx, and Stripe delivers it again later
  }
}

export async function handlePurchaseRoute(ctx: GatewayContext, req: IncomingMessage, res: ServerResponse, url: RequestUrl, client: AuthenticatedClient): Promise<void> {
  const payments = ctx.payments;
  if (!payments) {
    return sendError(
      res,
      null,
      'not_found',
      'This gateway does not sell credits: purchases are for a team gateway (creditgate serve --database URL). Here Add Credits is a top-up of your own budget, with no money moving.',
    );
  }
  const who = { name: client.name, role: client.role, seat: client.seat };
  try {
    if (req.method === 'GET' && url.pathname === `${PURCHASES_PATH}/options`) return sendJson(res, 200, payments.options(who));
    if (req.method === 'GET' && url.pathname === PURCHASES_PATH) return sendJson(res, 200, await payments.list(who));
    if (req.method === 'POST' && url.pathname === PURCHASES_PATH) return await startPurchase(ctx, payments, req, res, who);
    if (req.method === 'GET') {
      const purchase = await payments.purchase(who, decodeURIComponent(url.pathname.slice(PURCHASES_PATH.length + 1)));
      return purchase ? sendJson(res, 200, purchase) : sendError(res, null, 'not_found', 'No such purchase (or not one of your seat).');
    }
    return sendError(res, null, 'not_found', `No such Creditgate endpoint: ${req.method} ${url.pathname}`);
  } catch (error) {
    if (error instanceof PurchaseRefused) return sendError(res, null, error.kind, error.message);
    if (error instanceof StripeFailure) {
      ctx.log.warn(error.message);
      return sendError(res, null, 'upstream_unavailable', error.message);
    }
    throw error;
  }
}

async function startPurchase(
  ctx: GatewayContext,
  payments: Payments,
  req: IncomingMessage,
  res: ServerResponse,
  who: { name: string; role: 'admin' | 'client'; seat?: string },
): Promise<void> {
  let json: unknown;
  try {
    const raw = await readBody(req, 16 * 1024);
    json = JSON.parse(raw.toString('utf8'));
  } catch (error) {
    const tooLarge = error instanceof BodyTooLargeError;
    return sendError(res, null, tooLarge ? 'too_large' : 'invalid_request', tooLarge ? error.message : 'Request body is not valid JSON.');
  }
  const body = startPurchaseSchema.safeParse(json);
  if (!body.success) return sendError(res, null, 'invalid_request', describeIssues(body.error));
  const purchase = await payments.start(who, body.data, returnUrlOf(req));
  ctx.log.info(`purchase ${purchase.id} started by ${who.name}: pack ${purchase.pack}, Stripe session ${purchase.sessionId}`);
  sendJson(res, 200, purchase);
}

/** The gateway's own return page, on the address the buyer used (a reverse proxy's scheme when it says so). */
function returnUrlOf(req: IncomingMessage): string {
  const forwarded = req.headers['x-forwarded-proto'];
  const scheme = typeof forwarded === 'string' && /^https?$/.test(forwarded) ? forwarded : (req.socket as TLSSocket).encrypted ? 'https' : 'http';
  return `${scheme}://${req.headers.host ?? '127.0.0.1'}${CHECKOUT_RETURN_PATH}`;
}

function sendReturnPage(res: ServerResponse, url: RequestUrl): void {
  const paid = new URLSearchParams(url.search).get('result') === 'paid';
  const message = paid
    ? 'Payment received. The credits reach the pool as soon as Stripe confirms it; your editor shows them. You can close this tab.'
    : 'The purchase was cancelled: nothing was charged. You can close this tab.';
  const page = `<!doctype html><meta charset="utf-8"><title>Creditgate</title><p>${message}</p>`;
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'none'", 'content-length': String(Buffer.byteLength(page)) });
  res.end(page);
}
