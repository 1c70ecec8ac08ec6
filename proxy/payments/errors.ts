/**
 * The payment refusals the gateway's routes and the CLI answer in their own words. Kept apart from
 * the modules that throw them: the routes import only these, so a gateway on the SQLite file never
 * loads node-postgres or `stripe` (they are loaded with the team ledger, runtime.ts openPayments).
 */

/** A refusal meant for the buyer: 400 for a wrong pack, 403 for a buyer the policy refuses, 409 for the monthly limit or a gateway that does not sell. */
export class PurchaseRefused extends Error {
  constructor(
    readonly kind: 'invalid_request' | 'permission' | 'conflict',
    message: string,
  ) {
    super(message);
  }
}

/** Stripe refused or could not be reached: the message says so, and what was recorded. */
export class StripeFailure extends Error {}

/** A webhook delivery that is not Stripe's (bad or stale signature) or not an event: answered 400. */
export class WebhookRefused extends Error {}

/**
 * An event Creditgate cannot apply yet (a refund before its purchase's payment arrived, or a refund
 * that raced another): answered non-2xx, so Stripe delivers it again later.
 */
export class PaymentNotYetKnown extends Error {}

/** The SQLSTATE a refund raises when another refund of its purchase committed first (fulfilment.ts). */
export const REFUND_RACE = 'CG001';

export function isRefundRace(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === REFUND_RACE;
}

/** The largest webhook body accepted; Stripe's events are a few kilobytes. */
export const WEBHOOK_BODY_LIMIT = 256 * 1024;
