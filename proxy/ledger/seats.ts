/**
 * Seats (docs/product.md §8): each member of a team has a plan and windows of their own and spends from the org's
 * one credit pool. Individual use is the same model with one seat, `default`.
 */
import { LedgerError } from './errors';

export const DEFAULT_SEAT = 'default';

/** Seat and client names: short, printable, and safe in any shell, URL or log line. */
const SEAT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Throws the ledger's invalid_argument error unless `name` can name a seat. */
export function requireSeatName(name: string): void {
  if (!SEAT_NAME.test(name)) {
    throw new LedgerError('invalid_argument', `"${name}" cannot name a seat: use 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit`);
  }
}
