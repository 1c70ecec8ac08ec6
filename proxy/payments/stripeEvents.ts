/**
 * The parts of Stripe's webhook events that Creditgate reads, checked with zod once the signature
 * has been verified (webhook.ts): a signed event is Stripe's, but its shape is still checked at the
 * edge, and an event of another type passes as `other` (answered 2xx, ignored).
 */
import * as z from '../../shared/zod';

const metadata = z._default(z.record(z.string(), z.string()), {});
/** An expandable reference: the id, or the expanded object with its id. */
const reference = z.nullable(z.union([z.string(), z.object({ id: z.string() })]));

export const checkoutSessionSchema = z.object({
  id: z.string().check(z.minLength(1)),
  object: z.literal('checkout.session'),
  payment_status: z.string(),
  amount_total: z.nullable(z.number()),
  currency: z.nullable(z.string()),
  client_reference_id: z._default(z.nullable(z.string()), null),
  metadata,
  payment_intent: z._default(reference, null),
});

export const chargeSchema = z.object({
  id: z.string().check(z.minLength(1)),
  object: z.literal('charge'),
  amount: z.number().check(z.int(), z.nonnegative()),
  amount_refunded: z.number().check(z.int(), z.nonnegative()),
  currency: z.string(),
  metadata,
  payment_intent: z._default(reference, null),
  receipt_url: z._default(z.nullable(z.string()), null),
});

export type CheckoutSession = z.infer<typeof checkoutSessionSchema>;
export type Charge = z.infer<typeof chargeSchema>;

const SESSION_EVENTS = ['checkout.session.completed', 'checkout.session.async_payment_succeeded', 'checkout.session.async_payment_failed', 'checkout.session.expired'] as const;
const CHARGE_EVENTS = ['charge.succeeded', 'charge.updated', 'charge.refunded'] as const;

export type PaymentEvent =
  | { kind: 'session'; id: string; type: (typeof SESSION_EVENTS)[number]; session: CheckoutSession }
  | { kind: 'charge'; id: string; type: (typeof CHARGE_EVENTS)[number]; charge: Charge }
  | { kind: 'other'; id: string; type: string };

const envelope = z.object({ id: z.string().check(z.minLength(1), z.maxLength(255)), type: z.string(), data: z.object({ object: z.unknown() }) });

/** The event Creditgate acts on, or `other`; throws a zod error when a known type has the wrong shape. */
export function parsePaymentEvent(event: unknown): PaymentEvent {
  const { id, type, data } = envelope.parse(event);
  if ((SESSION_EVENTS as readonly string[]).includes(type)) {
    return { kind: 'session', id, type: type as (typeof SESSION_EVENTS)[number], session: checkoutSessionSchema.parse(data.object) };
  }
  if ((CHARGE_EVENTS as readonly string[]).includes(type)) {
    return { kind: 'charge', id, type: type as (typeof CHARGE_EVENTS)[number], charge: chargeSchema.parse(data.object) };
  }
  return { kind: 'other', id, type };
}

/** The id of an expandable reference. */
export function idOf(ref: string | { id: string } | null): string | null {
  return ref === null ? null : typeof ref === 'string' ? ref : ref.id;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The Creditgate purchase an object names in its metadata (or the session's client_reference_id); null when not ours. */
export function purchaseIdOf(meta: Record<string, string>, fallback: string | null = null): string | null {
  const id = meta.creditgate_purchase ?? fallback;
  return id !== null && id !== undefined && UUID.test(id) ? id : null;
}
