/**
 * Stripe's webhook, as the team gateway receives it: no gateway token (Stripe has none), so the
 * signature is the authentication. The raw body, byte for byte as it arrived, is verified with
 * `stripe.webhooks.constructEvent` at Stripe's default tolerance (5 minutes: a replayed old delivery
 * is refused); only then is it parsed. Any instance can receive it: everything it changes is in the
 * database.
 */
import type Stripe from 'stripe';
import { WebhookRefused } from './errors';
import { parsePaymentEvent, type PaymentEvent } from './stripeEvents';


/** The verified event, or WebhookRefused (answered 400: Stripe shows the delivery as failed). */
export function verifiedEvent(stripe: Stripe, webhookSecret: string, rawBody: Buffer, signature: string | string[] | undefined): PaymentEvent {
  if (typeof signature !== 'string' || signature === '') throw new WebhookRefused('missing Stripe-Signature header');
  let event: unknown;
  try {
    event = stripe.webhooks.constructEvent(rawBody, signature, webhookSecret);
  } catch (error) {
    throw new WebhookRefused(`signature verification failed: ${(error as Error).message.split('\n')[0]}`);
  }
  try {
    return parsePaymentEvent(event);
  } catch (error) {
    throw new WebhookRefused(`a signed event of an unexpected shape: ${(error as Error).message.slice(0, 300)}`);
  }
}
