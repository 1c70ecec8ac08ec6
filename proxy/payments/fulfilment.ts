/**
 * What a verified Stripe event does to the pool. Nothing here trusts "first delivery": Stripe sends
 * an event more than once, retries, and sends a session's events in any order, from any instance.
 * - Paid (`checkout.session.completed` with payment_status "paid", or
 *   `checkout.session.async_payment_succeeded`): one grant per Checkout Session, its idempotency key
 *   derived from the session id, written with the event id and the purchase's new state in the
 *   ledger's own transaction (PostgresLedger.addCredits' alongside SQL). A second event of the same
 *   session finds the grant and adds nothing.
 * - Failed or expired: the purchase says so (the buyer's editor is waiting on it); no credit moves.
 * - A refund (`charge.refunded`) takes the refunded share of the credits back from the pool, which
 *   may go negative (the seats spending from it are then blocked until it is positive again).
 * - A charge's receipt link is kept with its purchase.
 */
import { formatCredits, type Micro } from '../../shared/money';
import { grantKeyOfSession } from '../../shared/payments';
import type { Logger } from '../gateway/context';
import { LedgerError } from '../ledger/errors';
import { PaymentNotYetKnown, REFUND_RACE } from './errors';
import type { PostgresLedger } from '../ledger/postgres/postgresLedger';
import { int, text, textOrNull } from '../ledger/postgres/sqlText';
import type { PurchaseRow, Purchases } from './purchases';
import { idOf, purchaseIdOf, type CheckoutSession, type Charge, type PaymentEvent } from './stripeEvents';

/** The ledger's audit actor for what Stripe's events do. */
export const STRIPE_ACTOR = 'stripe';

export type Outcome =
  | { result: 'credited' | 'refunded'; purchaseId: string; credits: Micro; duplicate: boolean }
  | { result: 'recorded'; purchaseId: string | null }
  | { result: 'ignored'; reason: string };

export class Fulfilment {
  constructor(
    private readonly ledger: PostgresLedger,
    private readonly purchases: Purchases,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  async apply(event: PaymentEvent): Promise<Outcome> {
    if (event.kind === 'other') return { result: 'ignored', reason: `event type ${event.type} is not one Creditgate acts on` };
    if (event.kind === 'charge') return this.onCharge(event.id, event.type, event.charge);
    const { session } = event;
    const purchase = await this.purchaseOf(session);
    if (!purchase) return { result: 'ignored', reason: `session ${session.id} is not a Creditgate purchase of this ledger` };
    switch (event.type) {
      case 'checkout.session.completed':
        // A delayed method (a bank debit) completes the session unpaid: the money comes with async_payment_succeeded.
        if (session.payment_status !== 'paid') return this.record(event, purchase.id, null);
        return this.credit(event.id, event.type, session, purchase);
      case 'checkout.session.async_payment_succeeded':
        return this.credit(event.id, event.type, session, purchase);
      case 'checkout.session.async_payment_failed':
        return this.record(event, purchase.id, {
          sql: `UPDATE purchases SET state = 'failed', failure = $2, checkout_url = NULL WHERE id = $1 AND state IN ('creating', 'open')`,
          params: [purchase.id, 'The payment did not go through (the bank declined or reversed it). No credits were added; you may start a new purchase.'],
        });
      case 'checkout.session.expired':
        return this.record(event, purchase.id, {
          sql: `UPDATE purchases SET state = 'expired', checkout_url = NULL WHERE id = $1 AND state IN ('creating', 'open')`,
          params: [purchase.id],
        });
    }
  }

  /** The purchase a session pays for: named in its metadata, and (once known) with the same session id. */
  private async purchaseOf(session: CheckoutSession): Promise<PurchaseRow | null> {
    const id = purchaseIdOf(session.metadata, session.client_reference_id);
    const row = id === null ? null : await this.purchases.get(id);
    if (row && row.session_id !== null && row.session_id !== session.id) {
      this.log.warn(`Stripe session ${session.id} names purchase ${row.id}, which belongs to session ${row.session_id}: ignored`);
      return null;
    }
    return row;
  }

  private async credit(eventId: string, type: string, session: CheckoutSession, purchase: PurchaseRow): Promise<Outcome> {
    // The price was ours when the session was made; a session charging something else is not this purchase.
    if (session.amount_total !== purchase.price || session.currency?.toLowerCase() !== purchase.currency) {
      this.log.error(
        `Stripe session ${session.id} charged ${session.amount_total} ${session.currency} but purchase ${purchase.id} is ${purchase.price} ${purchase.currency}: not credited`,
      );
      return this.record({ id: eventId, type }, purchase.id, null);
    }
    const grantKey = grantKeyOfSession(session.id);
    const now = this.clock();
    const paymentIntent = idOf(session.payment_intent);
    const { duplicate } = await this.ledger.addCredits(
      { amount: purchase.credits, idempotencyKey: grantKey, source: 'purchase', expiresAt: null },
      STRIPE_ACTOR,
      ({ grantId }) =>
        `UPDATE purchases SET state = 'paid', grant_key = ${text(grantKey)}, grant_id = ${int(grantId)}, paid_at = coalesce(paid_at, ${int(now)}),
           session_id = coalesce(session_id, ${text(session.id)}), payment_intent = coalesce(payment_intent, ${textOrNull(paymentIntent)}),
           checkout_url = NULL, failure = NULL
         WHERE id = ${text(purchase.id)};
         ${eventRowSql(eventId, type, purchase.id, now)}`,
    );
    if (!duplicate) this.log.info(`purchase ${purchase.id}: ${formatCredits(purchase.credits)} credits added to the pool (Stripe session ${session.id})`);
    return { result: 'credited', purchaseId: purchase.id, credits: purchase.credits, duplicate };
  }

  private async onCharge(eventId: string, type: string, charge: Charge): Promise<Outcome> {
    const paymentIntent = idOf(charge.payment_intent);
    const purchase = await this.purchases.ofCharge(purchaseIdOf(charge.metadata), paymentIntent);
    if (!purchase) return { result: 'ignored', reason: `charge ${charge.id} is not a Creditgate purchase of this ledger` };
    if (type === 'charge.refunded') return this.refund(eventId, charge, purchase);
    if (charge.receipt_url === null) return this.record({ id: eventId, type }, purchase.id, null);
    return this.record({ id: eventId, type }, purchase.id, {
      sql: 'UPDATE purchases SET receipt_url = $2, payment_intent = coalesce(payment_intent, $3) WHERE id = $1',
      params: [purchase.id, charge.receipt_url, paymentIntent],
    });
  }

  /**
   * `charge.refunded` carries the charge's refunded total so far: the credits taken back are that
   * share of the purchase's credits (all of them once fully refunded), less what earlier refunds
   * took. The ledger's refund is keyed by the charge and that total, so a repeated delivery takes
   * nothing more; two refunds of one purchase handled at once cannot both count from the same
   * starting point: the purchase row's update checks it, and the loser's whole transaction (its
   * refund with it) rolls back, for Stripe to deliver again.
   */
  private async refund(eventId: string, charge: Charge, purchase: PurchaseRow): Promise<Outcome> {
    if (purchase.state !== 'paid' || purchase.grant_key === null) {
      throw new PaymentNotYetKnown(`charge ${charge.id} was refunded before purchase ${purchase.id} was credited; Stripe will deliver the refund again`);
    }
    const refundedPrice = Math.min(charge.amount_refunded, purchase.price);
    const target = refundedPrice >= purchase.price ? purchase.credits : Number((BigInt(purchase.credits) * BigInt(refundedPrice)) / BigInt(purchase.price));
    const taken = target - purchase.refunded_credits;
    if (taken <= 0) return this.record({ id: eventId, type: 'charge.refunded' }, purchase.id, null);
    const now = this.clock();
    const grantKey = purchase.grant_key;
    const { duplicate } = await this.refundOnce(purchase, () => this.ledger.refundCredits(
      { grantKey, amount: taken, idempotencyKey: `stripe-refund:${charge.id}:${refundedPrice}` },
      STRIPE_ACTOR,
      () => `DO $$ BEGIN
          UPDATE purchases SET refunded_price = ${int(refundedPrice)}, refunded_credits = ${int(target)}
            WHERE id = ${text(purchase.id)} AND refunded_credits = ${int(purchase.refunded_credits)};
          IF NOT FOUND THEN RAISE EXCEPTION 'another refund of purchase % was booked meanwhile', ${text(purchase.id)} USING ERRCODE = '${REFUND_RACE}'; END IF;
        END $$;
        ${eventRowSql(eventId, 'charge.refunded', purchase.id, now)}`,
    ));
    if (!duplicate) this.log.info(`purchase ${purchase.id}: ${formatCredits(taken)} credits taken back from the pool (Stripe charge ${charge.id} refunded)`);
    return { result: 'refunded', purchaseId: purchase.id, credits: taken, duplicate };
  }

  /**
   * The ledger refuses a refund counted from a stale start (more than the grant has left, or the same
   * refund key with another amount) when another refund of the purchase committed after it was read:
   * that is the race above, deferred like it, and not an error.
   */
  private async refundOnce<T>(read: PurchaseRow, book: () => Promise<T>): Promise<T> {
    try {
      return await book();
    } catch (error) {
      const refused = error instanceof LedgerError && (error.code === 'invalid_argument' || error.code === 'idempotency_conflict');
      if (refused && (await this.purchases.get(read.id))?.refunded_credits !== read.refunded_credits) {
        throw new PaymentNotYetKnown(`another refund of purchase ${read.id} was booked meanwhile`);
      }
      throw error;
    }
  }

  private async record(event: { id: string; type: string }, purchaseId: string | null, change: { sql: string; params: unknown[] } | null): Promise<Outcome> {
    await this.purchases.record({ id: event.id, type: event.type, purchaseId }, this.clock(), change);
    return { result: 'recorded', purchaseId };
  }
}

function eventRowSql(eventId: string, type: string, purchaseId: string, now: number): string {
  return `INSERT INTO payment_events (id, type, purchase_id, received_at)
          VALUES (${text(eventId)}, ${text(type)}, ${text(purchaseId)}, ${int(now)}) ON CONFLICT (id) DO NOTHING`;
}
