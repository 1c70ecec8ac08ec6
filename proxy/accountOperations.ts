/**
 * The account operations every front end offers (HTTP API, CLI, the extension's JSON-RPC), written
 * once over the ledger, whichever store keeps it (ledger/book.ts). Inputs arrive already validated by the schemas in shared/requests.ts. Every
 * change names its actor for the audit trail (`cli`, `vscode`, `api:<client>`); who may change the
 * account at all is the front end's decision (the HTTP API asks for an admin token).
 */
import { creditsToMicro } from '../shared/money';
import type { GrantRow, Status, UsageGroup, UsageRow } from '../shared/protocol';
import type { AddCreditsBody, AutoReloadConfig, UsageQueryParams } from '../shared/requests';
import type { LedgerBook, SeatAdmin } from './ledger/book';
import { LedgerError } from './ledger/errors';

/** A refusal of the caller's input, meant for the user (400 over HTTP, exit 2 from the CLI). */
export class OperationError extends Error {}

/** The input contradicts what the account already recorded (409 over HTTP). */
export class ConflictError extends OperationError {}

/** The audit trail's actors: the CLI and the editor act as the account's owner; API callers by token name. */
export const CLI_ACTOR = 'cli';
export const EDITOR_ACTOR = 'vscode';
export const apiActor = (client: string): string => `api:${client}`;

/** Credits from JSON as micro-credits, or the caller's mistake. */
export function micro(credits: number, what: string): number {
  const value = creditsToMicro(credits);
  if (value === null) throw new OperationError(`${what} must have at most 6 decimals`);
  return value;
}

export async function addCredits(ledger: LedgerBook, body: AddCreditsBody, actor: string): Promise<Status> {
  const purchase = {
    amount: micro(body.amount, 'amount'),
    idempotencyKey: body.idempotencyKey,
    source: body.source,
    expiresAt: body.expiresAt === undefined ? null : Date.parse(body.expiresAt),
  };
  try {
    await ledger.addCredits(purchase, actor);
  } catch (error) {
    if (error instanceof LedgerError && error.code === 'idempotency_conflict') throw new ConflictError(error.message);
    if (error instanceof LedgerError && error.code === 'invalid_argument') throw new OperationError(error.message);
    throw error;
  }
  return ledger.status();
}

export async function resetWindows(ledger: LedgerBook, actor: string): Promise<Status> {
  await ledger.resetWindows(actor);
  return ledger.status();
}

export async function setPlan(ledger: LedgerBook, plan: string, actor: string): Promise<Status> {
  try {
    await ledger.setPlan(plan, actor);
  } catch (error) {
    // An unknown plan is the caller's mistake; a ledger that cannot be written is not.
    if (error instanceof LedgerError && error.code === 'unknown_plan') throw new OperationError(error.message);
    throw error;
  }
  return ledger.status();
}

export async function setAutoUseCredits(ledger: LedgerBook, on: boolean, actor: string): Promise<Status> {
  await ledger.setAutoUseCredits(on, actor);
  return ledger.status();
}

export async function setAutoReload(ledger: LedgerBook, config: AutoReloadConfig, actor: string): Promise<Status> {
  await ledger.setAutoReload(
    config.enabled
      ? { threshold: micro(config.threshold, 'threshold'), target: micro(config.target, 'target'), maxPerMonth: config.maxPerMonth }
      : null,
    actor,
  );
  return ledger.status();
}

/** The team ledger's seats, or a refusal a user can act on (the individual ledger has one seat). */
export function seatsOf(ledger: LedgerBook): SeatAdmin {
  if (ledger.seats) return ledger.seats;
  throw new OperationError('seats need a team ledger: give --database postgres://… (or set CREDITGATE_DATABASE_URL)');
}

/** Runs a seat operation; a name, plan or seat the ledger refuses is the caller's mistake. */
export async function onSeats<T>(ledger: LedgerBook, run: (seats: SeatAdmin) => Promise<T>): Promise<T> {
  const seats = seatsOf(ledger);
  try {
    return await run(seats);
  } catch (error) {
    if (error instanceof LedgerError && ['invalid_argument', 'unknown_seat', 'unknown_plan'].includes(error.code)) throw new OperationError(error.message);
    throw error;
  }
}

export function listCredits(ledger: LedgerBook): Promise<GrantRow[]> {
  return ledger.grants();
}

/** `query.seat`: only that seat's rows (a member on a team's ledger reads its own). */
export function usage(ledger: LedgerBook, query: UsageQueryParams & { seat?: string }): Promise<UsageRow[] | UsageGroup[]> {
  const base = { seat: query.seat, since: query.since, until: query.until, limit: query.limit, beforeId: query.before };
  return query.groupBy ? ledger.usageGroups({ ...base, groupBy: query.groupBy }) : ledger.usageRows(base);
}
