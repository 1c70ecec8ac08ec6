/**
 * The ledger as the gateway's request path uses it, on either store: admissions, settlements, the
 * status feed's source, token lookups. On SQLite (one machine) writes go through the group commit and
 * settlements a database lock delays are kept in the pending-charges journal; on PostgreSQL (a team's
 * shared ledger) the ledger batches its own writes and settlements retry until the server is back.
 */
import type { Status } from '../../shared/protocol';
import type { LedgerBook } from '../ledger/book';
import { EVENT_LOOP_BUSY_TIMEOUT_MS } from '../ledger/connection';
import { GroupCommit } from '../ledger/groupCommit';
import type { Ledger } from '../ledger/ledger';
import type { PostgresLedger } from '../ledger/postgres/postgresLedger';
import { PostgresSettlements } from '../ledger/postgres/postgresSettlements';
import type { Admission, AdmitRequest } from '../ledger/rules';
import type { SettlementEvents } from '../ledger/settlements';
import { Settlements } from '../ledger/settlements';
import { SqliteBook } from '../ledger/sqliteBook';
import type { AuthenticatedClient } from '../ledger/tokens';
import type { StatusSource } from './statusFeed';

/** Charges and voids, each resolving (never rejecting) once it is durable (ledger/settlements.ts). */
export type SettlementPort = Pick<Settlements, 'post' | 'void' | 'postWithLimits' | 'voidNow' | 'close'>;

export interface GatewayLedger {
  readonly book: LedgerBook;
  readonly settlements: SettlementPort;
  readonly statusSource: StatusSource;
  /**
   * Places a hold; resolves once it is committed. `immediate`: a stream's client waits for its first
   * token, so its hold need not wait for the rest of the event-loop turn.
   */
  admit(req: AdmitRequest, immediate: boolean): Promise<Admission>;
  authenticate(token: string): AuthenticatedClient | null | Promise<AuthenticatedClient | null>;
  /** The ledger's time (a wall clock set back does not stretch a window's Retry-After). */
  now(): number;
}

/** The data directory's SQLite ledger, as `creditgate serve` and the editor run it. */
export function sqliteGatewayLedger(ledger: Ledger, events: SettlementEvents): GatewayLedger {
  // A request waits for another process's lock as long as the ledger was told to wait, but without
  // blocking the event loop: the connection's own wait is cut to a few ms (groupCommit.ts).
  const patienceMs = ledger.busyTimeoutMs;
  ledger.setBusyTimeout(EVENT_LOOP_BUSY_TIMEOUT_MS);
  const commits = new GroupCommit(ledger);
  const writeHold = { patienceMs };
  return {
    book: new SqliteBook(ledger, commits, patienceMs),
    settlements: Settlements.forLedger(ledger, commits, events),
    statusSource: ledger,
    admit: (req, immediate) => (immediate ? commits.runNow((l) => l.admit(req), writeHold) : commits.run((l) => l.admit(req), writeHold)),
    authenticate: (token) => ledger.authenticate(token),
    now: () => ledger.now(),
  };
}

/** A team's PostgreSQL ledger, shared by every instance of `creditgate serve --database URL`. */
export function postgresGatewayLedger(ledger: PostgresLedger, events: SettlementEvents): GatewayLedger {
  return {
    book: ledger,
    settlements: new PostgresSettlements(ledger, events),
    statusSource: { status: (): Promise<Status> => ledger.status(), dataVersion: () => ledger.changeCount() },
    // The ledger groups the turn's writes itself, one transaction in flight at a time.
    admit: (req, immediate) => ledger.admit(req, immediate),
    authenticate: (token) => ledger.authenticate(token),
    now: () => ledger.now(),
  };
}
