/**
 * What the gateway answers when an account operation or the ledger fails: the caller's mistakes in
 * their own words, and the ledger's storage failures with their cause and the database named (the
 * owner of the machine can act on "read-only" or "disk full"; not on "internal error").
 */
import { ConflictError, OperationError } from '../accountOperations';
import type { GatewayErrorKind } from '../dialects/types';
import { LedgerStorageError } from '../ledger/ledger';
import type { StorageProblem } from '../ledger/storageFailure';

export interface FailureAnswer {
  kind: GatewayErrorKind;
  message: string;
  /** Sent as Retry-After (seconds), when trying again soon may well succeed. */
  retryAfterSeconds?: number;
}

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
  if (error instanceof LedgerStorageError) {
    return {
      kind: KIND_OF_STORAGE_PROBLEM[error.problem],
      message: `${error.message.charAt(0).toUpperCase()}${error.message.slice(1)}.`,
      ...(error.problem === 'busy' ? { retryAfterSeconds: 1 } : {}),
    };
  }
  return null;
}
