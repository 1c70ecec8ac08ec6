/**
 * A hold's settlement (its charge, or its void) is never dropped. Written through the group commit, a
 * settlement that finds the database locked is retried until it lands (groupCommit.ts); so that a
 * restart meanwhile cannot lose it either, it is also appended to the pending-charges journal
 * (chargeJournal.ts), which the next start replays. The caller hears once the settlement is durable,
 * committed or journaled, whichever comes first: that is when the gateway ends the client's response,
 * so a response never ends on a charge that a crash could lose.
 */
import type { KeptSettlement } from './chargeJournal';
import { ChargeJournal, settle } from './chargeJournal';
import type { GroupCommit } from './groupCommit';
import type { AccountLimits, Charge, Ledger } from './ledger';
import { isLockedOut } from './storageFailure';

export interface SettlementEvents {
  /** A settlement is in the database (the status changed). */
  landed(): void;
  /** A settlement failed for another reason than a lock (its hold stays open until recovered at its estimate). */
  failed(holdId: number, error: unknown): void;
  /** A settlement could not be journaled; it is still retried in memory. */
  journalFailed(holdId: number, error: unknown): void;
}

export interface PostWithLimits {
  /** Resolves once the charge is durable. */
  durable: Promise<void>;
  /**
   * The account's limits right after the charge, once it is durable; null when the charge was kept to
   * land later (the database locked or away), so nobody knows them yet.
   */
  limits: Promise<AccountLimits | null>;
}

const DURABLE = Promise.resolve();

export class Settlements {
  constructor(
    private readonly ledger: Pick<Ledger, 'post' | 'void'>,
    private readonly commits: GroupCommit,
    private readonly journal: ChargeJournal | null,
    private readonly events: SettlementEvents,
  ) {}

  static forLedger(ledger: Ledger, commits: GroupCommit, events: SettlementEvents): Settlements {
    return new Settlements(ledger, commits, ChargeJournal.beside(ledger.databasePath), events);
  }

  /** Posts the hold's charge with the turn's other writes; resolves (never rejects) once it is durable. */
  post(holdId: number, charge: Charge): Promise<void> {
    return this.keep({ kind: 'post', holdId, charge }).durable;
  }

  /** Voids the hold (nothing to charge); resolves (never rejects) once that is durable. */
  void(holdId: number): Promise<void> {
    return this.keep({ kind: 'void', holdId }).durable;
  }

  /**
   * Posts with the turn's other writes, like post(), and reads the account's limits right after its
   * charge (inside the turn's transaction when it has other writes; alone, in a read of its own), for
   * a caller that must tell the settled account (Codex's rate-limit event precedes the stream's last
   * one). Under 32 Codex streams a charge of its own cost every stream a second commit; batched, most
   * ride in the next admission's.
   */
  postWithLimits(holdId: number, charge: Charge): PostWithLimits {
    const kept = this.keep({ kind: 'post', holdId, charge }, (ledger) => ledger.post(holdId, charge).limits);
    return { durable: kept.durable, limits: kept.landed };
  }

  /** Voids the hold at once, before the caller answers its client; while the database is locked, kept like a charge. */
  voidNow(holdId: number): Promise<void> {
    // Behind writes already waiting for a lock, trying would only block the event loop again.
    if (this.commits.waiting === 0) {
      try {
        this.ledger.void(holdId);
        this.events.landed();
        return DURABLE;
      } catch (error) {
        if (!isLockedOut(error)) {
          this.events.failed(holdId, error);
          return DURABLE;
        }
      }
    }
    return this.keep({ kind: 'void', holdId }).durable;
  }

  /**
   * Before the ledger closes: one last try, and what the database still refuses stays in the journal
   * for the next start. Resolves once the journal is on disk.
   */
  async close(): Promise<void> {
    this.commits.close();
    await this.journal?.close();
  }

  /**
   * Writes the settlement with the turn's other writes. `durable` resolves once it is committed or
   * journaled, whichever comes first; `landed` resolves at the same moment, with what `write` returned
   * when it was committed, or with null when it was journaled (it lands later, unread) or failed.
   */
  private keep<T = void>(
    entry: KeptSettlement,
    write: (ledger: Ledger) => T = (ledger) => settle(ledger, entry) as T,
  ): { durable: Promise<void>; landed: Promise<T | null> } {
    let answer!: (landed: T | null) => void;
    const landed = new Promise<T | null>((resolve) => (answer = resolve));
    const durable = landed.then(() => undefined);
    let journaled = false;
    this.commits
      .run(write, {
        onWaiting: () => {
          if (!this.journal) return; // an in-memory ledger: nothing outlives the process anyway
          journaled = true;
          this.journal.append(entry).then(
            () => answer(null),
            (error: unknown) => this.events.journalFailed(entry.holdId, error),
          );
        },
      })
      .then(
        (value) => {
          // Only a journaled settlement is in the journal; landed() ignores any other hold.
          this.journal?.landed(entry.holdId);
          this.events.landed();
          answer(journaled ? null : value);
        },
        (error: unknown) => {
          // Refused for a lock only when the gateway closes: a journaled settlement waits for the next start.
          if (isLockedOut(error) && journaled) return;
          this.journal?.landed(entry.holdId);
          this.events.failed(entry.holdId, error);
          answer(null);
        },
      );
    return { durable, landed };
  }
}
