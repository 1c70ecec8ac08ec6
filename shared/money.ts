/**
 * Money is integer micro-credits everywhere inside Creditgate; credits (numbers with at most six
 * decimals) exist only at the edges (JSON, CLI, UI). Converting through strings avoids the float
 * error of `credits * 1e6` on values such as 0.000001 or 1e-7.
 */
export type Micro = number;

export const MICRO_PER_CREDIT = 1_000_000;

/** Parses a decimal credit amount ("12", "0.5", "-3.000001") into micro-credits; null if it is not one. */
export function parseCredits(text: string): Micro | null {
  const match = /^(-?)(\d+)(?:\.(\d{1,6}))?$/.exec(text.trim());
  if (!match) return null;
  const [, sign, whole, fraction = ''] = match;
  const micro = Number(whole) * MICRO_PER_CREDIT + Number(fraction.padEnd(6, '0'));
  if (!Number.isSafeInteger(micro)) return null;
  return sign === '-' && micro !== 0 ? -micro : micro;
}

/** Converts a credits number from JSON into micro-credits; null when it has more than six decimals. */
export function creditsToMicro(credits: number): Micro | null {
  if (!Number.isFinite(credits)) return null;
  const micro = Math.round(credits * MICRO_PER_CREDIT);
  // Reject inputs that carry precision beyond a micro-credit (e.g. 0.0000001).
  if (Math.abs(micro / MICRO_PER_CREDIT - credits) > 1e-9 * Math.max(1, Math.abs(credits))) return null;
  return Number.isSafeInteger(micro) ? micro : null;
}

/** Micro-credits as a JSON credits number, rounded to six decimals. */
export function microToCredits(micro: Micro): number {
  return Number(formatCredits(micro));
}

/** Micro-credits as an exact decimal string without trailing zeros: 1500000 → "1.5". */
export function formatCredits(micro: Micro): string {
  const sign = micro < 0 ? '-' : '';
  const abs = Math.abs(micro);
  const whole = Math.floor(abs / MICRO_PER_CREDIT);
  const fraction = String(abs % MICRO_PER_CREDIT).padStart(6, '0').replace(/0+$/, '');
  return `${sign}${whole}${fraction ? `.${fraction}` : ''}`;
}
