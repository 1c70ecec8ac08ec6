/** The Add Credits flow's words: pack labels and validation of a custom amount. Pure. */
import { formatCredits as formatExactCredits, parseCredits } from '../../shared/money';
import type { GrantRow } from '../../shared/protocol';
import type { CreditPack } from '../../shared/rateCard';
import { formatCredits, formatUsd } from '../../shared/format';

/** The most one purchase may add; matches the gateway's own limit (shared/requests.ts). */
export const MAX_PURCHASE = 1e9;

export interface PackChoice {
  label: string;
  description: string;
  credits: number;
  usd: number | null;
}

export function packChoices(packs: readonly CreditPack[], creditUsd: number): PackChoice[] {
  return packs.map((pack) => ({
    label: pack.label ?? `${formatCredits(pack.credits)} credits`,
    description: `${formatUsd(pack.usd)} · ${formatUsd(pack.usd / pack.credits)}/credit (list ${formatUsd(pack.credits * creditUsd)})`,
    credits: pack.credits,
    usd: pack.usd,
  }));
}

/** The input box's validation: a message for the user, or null when the text is a valid amount. */
export function validateCreditAmount(text: string): string | null {
  const trimmed = text.trim().replace(/,/g, '');
  if (trimmed === '') return 'Enter a number of credits, for example 250.';
  const micro = parseCredits(trimmed);
  if (micro === null) {
    return /^-?\d+\.\d{7,}$/.test(trimmed) ? 'Use at most 6 decimals.' : 'Enter a number such as 250 or 12.5.';
  }
  if (micro <= 0) return 'The amount must be more than 0.';
  if (micro / 1_000_000 > MAX_PURCHASE) return `At most ${formatCredits(MAX_PURCHASE)} credits at once.`;
  return null;
}

/** The credits number of a validated input ("1,000.5" → 1000.5). */
export function parseCreditAmount(text: string): number {
  const micro = parseCredits(text.trim().replace(/,/g, ''));
  if (micro === null || micro <= 0) throw new Error(`not a valid amount: ${text}`);
  return Number(formatExactCredits(micro));
}

/**
 * The usage panel's payment cell of a grant a Stripe purchase paid for: its price, the Checkout
 * Session and refunds, and the receipt link when Stripe gave one; null for other grants.
 */
export function paymentSummary(grant: GrantRow): { text: string; receiptUrl: string | null } | null {
  const payment = grant.payment;
  if (!payment) return null;
  const refunded = payment.refundedCredits > 0 ? ` · ${formatCredits(payment.refundedCredits)} cr refunded` : '';
  const session = payment.sessionId ? ` · Stripe ${payment.sessionId}` : '';
  // Only Stripe's https links become links in the panel.
  const receiptUrl = payment.receiptUrl !== null && /^https:\/\//.test(payment.receiptUrl) ? payment.receiptUrl : null;
  return { text: `${payment.price.toFixed(2)} ${payment.currency.toUpperCase()}${session}${refunded}`, receiptUrl };
}

/** Said in individual mode, where Add Credits moves no money (issue 11: only a team gateway sells credits). */
export const LOCAL_TOP_UP_NOTE =
  'No money moves: this is a budget top-up for your own upstream API key. The vendor bills your key as usual; these credits only set how much Creditgate lets your clients spend.';

export function confirmationMessage(credits: number, usd: number | null): string {
  const price = usd === null ? '' : ` for ${formatUsd(usd)}`;
  return `Add ${formatCredits(credits)} credits${price} to the Creditgate account?`;
}
