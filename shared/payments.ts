/**
 * Buying pool credits with real money on a team gateway (issue 11): the shapes the gateway's
 * purchase routes answer, which the CLI and the editor read. Credits are numbers (6 decimals), prices
 * in the currency's major unit (20 = 20.00 USD); the gateway keeps both as integers.
 */
import * as z from './zod';

export const PURCHASE_STATES = ['creating', 'open', 'paid', 'failed', 'expired', 'error'] as const;
export type PurchaseState = (typeof PURCHASE_STATES)[number];

export interface PurchaseView {
  id: string;
  createdAt: string;
  /** The token name that started it (`cli` for the command line). */
  buyer: string;
  seat: string | null;
  pack: string;
  credits: number;
  price: number;
  currency: string;
  state: PurchaseState;
  /** Stripe's Checkout Session id (cs_…), once created. */
  sessionId: string | null;
  /** Where to pay, while the session is open. */
  checkoutUrl: string | null;
  /** The same, under the contract's name (`{"id","sessionId","url"}`). */
  url: string | null;
  expiresAt: string | null;
  paidAt: string | null;
  /** Stripe's receipt for the charge, when it gave one. */
  receiptUrl: string | null;
  refundedCredits: number;
  refundedPrice: number;
  /** Why it failed (a declined async payment, Stripe's refusal), for the buyer. */
  failure: string | null;
}

export interface SalePack {
  /** What `creditgate credits buy PACK` and the editor send: the pack's credits, as text. */
  id: string;
  label: string;
  credits: number;
  price: number;
  currency: string;
}

/** GET /creditgate/v1/purchases/options: whether this gateway sells credits, and to this token. */
export interface PaymentOptions {
  /** Stripe is configured on this gateway. */
  enabled: boolean;
  /** This token may start a purchase (admins, or every member when the rate card says so). */
  mayBuy: boolean;
  /** Why not, naming whom to ask; null when the token may buy. */
  reason: string | null;
  packs: SalePack[];
}

/**
 * POST /creditgate/v1/purchases (docs/product.md §8, contract): a pack by its credits or label
 * (`{"pack":"500"}`, `{"pack":500}`), or a number of credits (`{"credits":N}`: a pack's, else that many
 * at the rate card's price per credit).
 */
export const startPurchaseSchema = z.union([
  z.strictObject({ pack: z.union([z.string().check(z.minLength(1), z.maxLength(100)), z.number().check(z.positive())]) }),
  z.strictObject({ credits: z.number().check(z.positive(), z.lte(1e9)) }),
]);
export type StartPurchaseBody = z.infer<typeof startPurchaseSchema>;

/** A purchase's grant in `credits list` and GET /creditgate/v1/credits: the receipt behind a grant. */
export interface GrantReceipt {
  purchaseId: string;
  price: number;
  currency: string;
  sessionId: string | null;
  receiptUrl: string | null;
  refundedCredits: number;
}

/** A grant's idempotency key when a Checkout Session paid for it: one session, one grant. */
export const grantKeyOfSession = (sessionId: string): string => `stripe:${sessionId}`;
