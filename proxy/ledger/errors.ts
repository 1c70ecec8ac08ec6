/** Typed ledger errors, so callers can tell a programming error from a user's bad input by `code`. */
export type LedgerErrorCode =
  | 'unknown_model' // post() for a model the rate card cannot price (the gateway should have refused it)
  | 'unknown_plan'
  | 'unknown_seat' // a team ledger has no such seat, or it was removed
  | 'hold_not_found' // post/void of a hold that is settled, voided or never existed
  | 'invalid_argument'
  | 'idempotency_conflict' // an idempotency key already used for a different purchase
  | 'not_a_ledger' // the database file is empty, not SQLite, or another program's database
  | 'storage' // the database could not be read or written (LedgerStorageError says why)
  | 'unavailable' // the PostgreSQL server cannot be reached: nothing was written, try again later
  | 'internal'; // a store broke its own contract (a bug): never a reason to charge or grant

export class LedgerError extends Error {
  override readonly name: string = 'LedgerError';
  constructor(
    readonly code: LedgerErrorCode,
    message: string,
  ) {
    super(message);
  }
}
