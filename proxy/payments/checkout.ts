/**
 * Starting a purchase: the pack from the rate card, a purchase row first (so no Checkout Session
 * exists that the ledger does not know), then one Checkout Session in payment mode made with the
 * official `stripe` package, the purchase id as its idempotency key (a retried request makes no
 * second session) and in its metadata with the org, the seat and the credits. A refusal from Stripe
 * leaves the row in `error` with Stripe's reason: no session, no credit, nothing half done.
 */
import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { formatCredits, parseCredits } from '../../shared/money';
import type { PurchaseView, SalePack, StartPurchaseBody } from '../../shared/payments';
import type { RateCard } from '../../shared/rateCard';
import { viewOf, type Purchases } from './purchases';
import { PurchaseRefused, StripeFailure } from './errors';
import type { StripeSetup } from './stripeSetup';

/** How long a Checkout Session stays payable (Stripe's least is 30 minutes; the editor waits this long at most). */
export const CHECKOUT_MINUTES = 60;
const CURRENCY = 'usd';


export function salePacks(card: RateCard): SalePack[] {
  return card.packs.map((pack) => ({
    id: formatCredits(parseCredits(String(pack.credits)) ?? 0),
    label: pack.label ?? `${formatCredits(parseCredits(String(pack.credits)) ?? 0)} credits`,
    credits: pack.credits,
    price: Math.round(pack.usd * 100) / 100,
    currency: CURRENCY,
  }));
}

/** Stripe's least charge in USD: a smaller custom amount would be refused by Checkout. */
const LEAST_CHARGE = 0.5;

/**
 * What a buyer asked for: a pack by its credits ("500", 500) or its label ("500 credits"), case
 * aside; or a number of credits, which is a pack's when one has that many, else a custom amount at
 * the rate card's price per credit.
 */
export function chosenPack(card: RateCard, choice: StartPurchaseBody): SalePack {
  if ('pack' in choice) return findPack(card, typeof choice.pack === 'number' ? creditsId(choice.pack) : choice.pack);
  const id = creditsId(choice.credits);
  const listed = salePacks(card).find((pack) => pack.id === id);
  if (listed) return listed;
  const micro = parseCredits(String(choice.credits));
  if (micro === null) throw new PurchaseRefused('invalid_request', 'credits: at most 6 decimals');
  const price = Math.round(choice.credits * card.creditUsd * 100) / 100;
  if (price < LEAST_CHARGE) {
    throw new PurchaseRefused('invalid_request', `${id} credits cost ${price.toFixed(2)} USD; Stripe charges at least ${LEAST_CHARGE.toFixed(2)} USD`);
  }
  return { id, label: `${id} credits`, credits: choice.credits, price, currency: CURRENCY };
}

function creditsId(credits: number): string {
  const micro = parseCredits(String(credits));
  return micro === null ? String(credits) : formatCredits(micro);
}

/** The pack a buyer names: by its credits ("500") or its label ("500 credits"), case aside. */
export function findPack(card: RateCard, name: string): SalePack {
  const wanted = name.trim().toLowerCase();
  const packs = salePacks(card);
  const pack = packs.find((p) => p.id === wanted || p.label.toLowerCase() === wanted);
  if (pack) return pack;
  const offered = packs.length === 0 ? 'the rate card offers no packs' : `packs: ${packs.map((p) => `${p.id} (${p.label}, ${p.price.toFixed(2)} ${p.currency.toUpperCase()})`).join(', ')}`;
  throw new PurchaseRefused('invalid_request', `no pack "${name}": ${offered}`);
}

export interface Buyer {
  name: string;
  seat: string | null;
}

export interface CheckoutRequest {
  buyer: Buyer;
  pack: SalePack;
  org: string;
  /** Where Stripe sends the buyer after paying or cancelling (the gateway's own /creditgate/v1/checkout page). */
  returnUrl: string;
  /** Minor units; null: no limit. */
  monthlyLimit: number | null;
}

export async function startCheckout(setup: StripeSetup, purchases: Purchases, request: CheckoutRequest, now: number): Promise<PurchaseView> {
  const { buyer, pack } = request;
  const credits = parseCredits(String(pack.credits));
  if (credits === null || credits <= 0) throw new PurchaseRefused('invalid_request', `pack ${pack.id} has no valid number of credits`);
  const price = Math.round(pack.price * 100);
  const id = randomUUID();
  await purchases.create({ id, buyer: buyer.name, seat: buyer.seat, pack: pack.id, credits, price, currency: pack.currency }, now, request.monthlyLimit);
  const metadata = { creditgate_purchase: id, org: request.org, seat: buyer.seat ?? '', buyer: buyer.name, credits: formatCredits(credits) };
  let session: Stripe.Checkout.Session;
  try {
    session = await setup.stripe.checkout.sessions.create(
      {
        mode: 'payment',
        line_items: [{ quantity: 1, price_data: { currency: pack.currency, unit_amount: price, product_data: { name: `${pack.label} for the ${request.org} Creditgate pool` } } }],
        client_reference_id: id,
        metadata,
        // The charge carries them too, so a refund finds its purchase.
        payment_intent_data: { metadata },
        expires_at: Math.floor(now / 1000) + CHECKOUT_MINUTES * 60,
        success_url: `${request.returnUrl}?purchase=${id}&result=paid`,
        cancel_url: `${request.returnUrl}?purchase=${id}&result=cancelled`,
      },
      { idempotencyKey: id },
    );
  } catch (error) {
    const reason = setup.redact(error instanceof Error ? error.message : String(error));
    await purchases.failedToOpen(id, `Stripe refused the Checkout Session: ${reason}`);
    throw new StripeFailure(`Stripe could not create the Checkout Session (${reason}). Nothing was charged and no credits were added.`);
  }
  await purchases.opened(id, { id: session.id, url: session.url ?? null, expiresAt: session.expires_at ? session.expires_at * 1000 : null });
  const row = await purchases.get(id);
  if (!row) throw new StripeFailure(`purchase ${id} vanished after its Checkout Session ${session.id} was created`);
  return viewOf(row);
}
