/**
 * Exact decimal arithmetic for pricing. Float sums of `tokens × price` drift by a few ulps, and at
 * realistic totals (hundreds of credits, i.e. 1e8+ micro-credits) an exact .5 can come out as
 * .49999999 and round the wrong way. Reading each number from its shortest round-trip decimal string
 * (what JSON wrote) and multiplying as BigInt keeps the single half-up rounding of docs/product.md §6 exact.
 */

interface Decimal {
  /** value = units / 10^scale */
  units: bigint;
  scale: number;
}

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/;

function toDecimal(value: number): Decimal {
  if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`);
  // String() of a finite number is always sign, digits, an optional fraction and an optional exponent.
  const [, sign, whole, fraction = '', exponent] = DECIMAL.exec(String(value)) as unknown as [string, string, string, string | undefined, string | undefined];
  const units = BigInt(`${sign}${whole}${fraction}`);
  return { units, scale: fraction.length - (exponent === undefined ? 0 : Number(exponent)) };
}

const pow10 = (n: number): bigint => 10n ** BigInt(n);

/** Floor division by a positive BigInt (BigInt `/` truncates toward zero; `%` takes the sign of `a`). */
function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b < 0n ? q - 1n : q;
}

/** One priced quantity: `price × quantity × 10^shift` (shift turns credits into micro-credits). */
export interface Term {
  price: number;
  quantity: number;
  shift?: number;
}

/** A parsed price, with its digits also as a double when they fit a safe integer (NaN otherwise). */
interface Price extends Decimal {
  unitsAsNumber: number;
}

/** A rate card has a handful of distinct prices: parse each once (this runs on every request). */
const priceCache = new Map<number, Price>();

function priceDecimal(price: number): Price {
  let parsed = priceCache.get(price);
  if (!parsed) {
    const decimal = toDecimal(price);
    const digits = Number(decimal.units);
    parsed = { ...decimal, unitsAsNumber: Number.isSafeInteger(digits) ? digits : Number.NaN };
    if (priceCache.size >= 10_000) priceCache.clear();
    priceCache.set(price, parsed);
  }
  return parsed;
}

/** Token counts are integers: no string round trip needed. */
const quantityDecimal = (quantity: number): Decimal =>
  Number.isSafeInteger(quantity) ? { units: BigInt(quantity), scale: 0 } : toDecimal(quantity);

/** Sums the terms exactly and rounds the total once, half up (toward +∞ at exactly .5). */
export function sumRoundedHalfUp(terms: readonly Term[]): number {
  return sumInSafeIntegers(terms) ?? sumInBigInts(terms);
}

const POW10 = Array.from({ length: 16 }, (_, n) => 10 ** n); // exact doubles up to 10^15

/**
 * The same exact sum in plain doubles, for the usual case where every intermediate is a safe integer
 * (then every product and sum is exact): no BigInt or array is allocated on each request. Null as soon
 * as anything could lose precision; the BigInt path then decides.
 */
function sumInSafeIntegers(terms: readonly Term[]): number | null {
  let scale = 0;
  for (const { price, quantity, shift = 0 } of terms) {
    if (price !== 0 && quantity !== 0) scale = Math.max(scale, priceDecimal(price).scale - shift);
  }
  if (scale >= POW10.length) return null;
  let total = 0;
  for (const { price, quantity, shift = 0 } of terms) {
    if (price === 0 || quantity === 0) continue;
    const parsed = priceDecimal(price);
    const units = parsed.unitsAsNumber;
    const lift = scale - (parsed.scale - shift);
    if (!Number.isSafeInteger(quantity) || Number.isNaN(units) || lift >= POW10.length) return null;
    // A computed product within the safe range is the exact product (a larger one would round past it).
    const product = units * quantity * POW10[lift]!;
    if (!Number.isSafeInteger(product)) return null;
    total += product;
    if (!Number.isSafeInteger(total)) return null;
  }
  if (total < 0) return null;
  const denominator = POW10[scale]!;
  // The float division floors exactly. A true quotient x = total / denominator that is not an integer
  // lies at least 1 / denominator below the next integer, while rounding moves it by at most half an
  // ulp, under x · 2^-53 < 1 / denominator since total < 2^53: it never rounds up to that integer, nor
  // (rounding is monotonic) below its floor, which is a double. The remainder is then exact, in
  // [0, denominator).
  const quotient = Math.floor(total / denominator);
  const remainder = total - quotient * denominator;
  return 2 * remainder >= denominator ? quotient + 1 : quotient;
}

/** The general path, exported so tests can hold the fast path to it. */
export function sumInBigInts(terms: readonly Term[]): number {
  const products = terms
    .filter(({ price, quantity }) => price !== 0 && quantity !== 0)
    .map(({ price, quantity, shift = 0 }) => {
      const p = priceDecimal(price);
      const q = quantityDecimal(quantity);
      return { units: p.units * q.units, scale: p.scale + q.scale - shift };
    });
  const scale = Math.max(0, ...products.map((d) => d.scale));
  let total = 0n;
  // scale ≥ every product's scale, so each one lifts to the common denominator exactly.
  for (const d of products) total += d.units * pow10(scale - d.scale);
  const denominator = pow10(scale);
  return Number(floorDiv(2n * total + denominator, 2n * denominator));
}
