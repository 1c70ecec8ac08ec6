/**
 * What the gateway answers when an account operation or the ledger fails: the caller's mistakes in
 * their own words, and the ledger's storage failures with their cause and the database named (the
 * owner of the machine can act on "read-only" or "disk full"; not on "internal error").
 */
import { ConflictError, OperationError } from '../accountOperations';
import type { GatewayErrorKind } from '../dialects/types';
import { LedgerError, LedgerStorageError } from '../ledger/ledger';
import type { StorageProblem } from '../ledger/storageFailure';

export interface FailureAnswer {
  kind: GatewayErrorKind;
  message: string;
  /** Whether a client should try again: the vendors' SDKs retry every 5xx unless told not to. */
  headers?: Record<string, string>;
}

/** A lock is held for milliseconds as a rule: trying again in a second may well succeed. */
const TRY_AGAIN_SOON = { 'retry-after': '1' };
/** A read-only, full, damaged or failing disk does not mend between two retries. */
const DO_NOT_RETRY = { 'x-should-retry': 'false' };

const KIND_OF_STORAGE_PROBLEM: Readonly<Record<StorageProblem, GatewayErrorKind>> = {
  busy: 'ledger_busy',
  full: 'ledger_full',
  read_only: 'internal',
  cannot_open: 'internal',
  corrupt: 'internal',
  io: 'internal',
};

/** The answer for `error`, or null when it is none of these (a bug: the caller logs it and says so). */
export function failureAnswer(error: unknown): FailureAnswer | null {
  if (error instanceof ConflictError) return { kind: 'conflict', message: error.message };
  if (error instanceof OperationError) return { kind: 'invalid_request', message: error.message };
  if (error instanceof LedgerError && error.code === 'unavailable') {
    // Fail closed: nothing is forwarded unmetered while the team's ledger is away; it is usually back soon.
    return { kind: 'ledger_unavailable', message: `${error.message.charAt(0).toUpperCase()}${error.message.slice(1)}.`, headers: TRY_AGAIN_SOON };
  }
  if (error instanceof LedgerStorageError) {
    return {
      kind: KIND_OF_STORAGE_PROBLEM[error.problem],
      message: `${error.message.charAt(0).toUpperCase()}${error.message.slice(1)}.`,
      headers: error.problem === 'busy' ? TRY_AGAIN_SOON : DO_NOT_RETRY,
    };
  }
  return null;
}
