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
import type { AccountLimits, Charge, Ledger, PostResult } from './ledger';
import { isLockedOut } from './storageFailure';

export interface SettlementEvents {
  /** A settlement is in the database (the status changed). */
  landed(): void;
  /** A settlement failed for another reason than a lock (its hold stays open until recovered at its estimate). */
  failed(holdId: number, error: unknown): void;
  /** A settlement could not be journaled; it is still retried in memory. */
  journalFailed(holdId: number, error: unknown): void;
}

export interface ImmediatePost {
  /** The post's result, or null when it is not known at once (a locked database; a shared ledger). */
  result: PostResult | null;
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
    return this.keep({ kind: 'post', holdId, charge });
  }

  /** Voids the hold (nothing to charge); resolves (never rejects) once that is durable. */
  void(holdId: number): Promise<void> {
    return this.keep({ kind: 'void', holdId });
  }

  /**
   * Posts at once and returns the result, for a caller that needs the settled account before it can go
   * on (Codex's rate-limit event precedes the stream's last one). While the database is locked the
   * charge is kept like any other and the result is null.
   */
  postNow(holdId: number, charge: Charge): ImmediatePost {
    const { result, durable } = this.now({ kind: 'post', holdId, charge }, () => this.ledger.post(holdId, charge));
    return {
      result,
      durable,
      // Made only when asked: a result's limits are a status read, and a caller with a result reads them there.
      get limits() {
        return result ? Promise.resolve(result.limits) : durable.then(() => null);
      },
    };
  }

  /** Voids the hold at once, before the caller answers its client; while the database is locked, kept like a charge. */
  voidNow(holdId: number): Promise<void> {
    return this.now({ kind: 'void', holdId }, () => this.ledger.void(holdId)).durable;
  }

  private now<T>(entry: KeptSettlement, write: () => T): { result: T | null; durable: Promise<void> } {
    // Behind writes already waiting for a lock, trying would only block the event loop again.
    if (this.commits.waiting === 0) {
      try {
        const result = write();
        this.events.landed();
        return { result, durable: DURABLE };
      } catch (error) {
        if (!isLockedOut(error)) {
          this.events.failed(entry.holdId, error);
          return { result: null, durable: DURABLE };
        }
      }
    }
    return { result: null, durable: this.keep(entry) };
  }

  /**
   * Before the ledger closes: one last try, and what the database still refuses stays in the journal
   * for the next start. Resolves once the journal is on disk.
   */
  async close(): Promise<void> {
    this.commits.close();
    await this.journal?.close();
  }

  private keep(entry: KeptSettlement): Promise<void> {
    return new Promise<void>((durable) => {
      let journaled = false;
      const landed = this.commits.run((ledger) => settle(ledger, entry), {
        onWaiting: () => {
          if (!this.journal) return; // an in-memory ledger: nothing outlives the process anyway
          journaled = true;
          this.journal.append(entry).then(durable, (error: unknown) => this.events.journalFailed(entry.holdId, error));
        },
      });
      landed.then(
        () => {
          if (journaled) this.journal!.landed(entry.holdId);
          this.events.landed();
          durable();
        },
        (error: unknown) => {
          // Refused for a lock only when the gateway closes: a journaled settlement waits for the next start.
          if (isLockedOut(error) && journaled) return;
          if (journaled) this.journal!.landed(entry.holdId);
          this.events.failed(entry.holdId, error);
          durable();
        },
      );
    });
  }
}
