/**
 * The SQLite ledger in the asynchronous shape both stores share (book.ts): writes go through the group
 * commit, so a caller hears its result after the turn's transaction has committed, as with PostgreSQL;
 * reads are answered at once.
 */
import type { GrantRow, Status, UsageGroup, UsageGroupKey, UsageQuery, UsageRow } from '../../shared/protocol';
import type { AutoReloadSettings } from './autoReload';
import type { CreditLog } from './creditLog';
import type { RefundRequest } from './credits';
import type { LedgerBook, Posted } from './book';
import { GroupCommit } from './groupCommit';
import type { LedgerOptions } from './ledger';
import { Ledger } from './ledger';
import type { AuditRow } from './reports';
import type { AccountLimits, AddCredits, Admission, AdmitRequest, Charge } from './rules';
import type { AuthenticatedClient, TokenRole } from './tokens';
import { LedgerError } from './errors';
import { DEFAULT_SEAT } from './seats';

export class SqliteBook implements LedgerBook {
  readonly store = 'sqlite' as const;
  /** One seat, the default one: seats need a team's ledger. */
  readonly seats = null;

  /**
   * `patienceMs`: how long a write waits, without blocking the event loop, for another process's lock
   * beyond the connection's own busy wait (groupCommit.ts); then it fails as busy. The gateway, whose
   * connection hardly waits, passes its configured patience; a one-shot command relies on the
   * connection's wait alone.
   */
  constructor(
    readonly ledger: Ledger,
    readonly commits: GroupCommit = new GroupCommit(ledger),
    private readonly patienceMs = 0,
  ) {}

  get location(): string {
    return this.ledger.databasePath;
  }

  static open(options: LedgerOptions): SqliteBook {
    return new SqliteBook(Ledger.open(options));
  }

  admit(req: AdmitRequest): Promise<Admission> {
    return this.write((ledger) => ledger.admit(req));
  }

  async post(holdId: number, charge: Charge): Promise<Posted> {
    const { usageId, cost, planCost, creditCost } = await this.write((ledger) => ledger.post(holdId, charge));
    return { usageId, cost, planCost, creditCost, limits: this.ledger.limits() };
  }

  void(holdId: number): Promise<void> {
    return this.write((ledger) => ledger.void(holdId));
  }

  recover(): Promise<number> {
    return this.write((ledger) => ledger.recover());
  }

  addCredits(req: AddCredits, actor?: string): Promise<{ grantId: number; duplicate: boolean }> {
    return this.write((ledger) => ledger.addCredits(req, actor));
  }

  refundCredits(req: RefundRequest, actor?: string): Promise<{ refundId: number; duplicate: boolean }> {
    return this.write((ledger) => ledger.refundCredits(req, actor));
  }

  resetWindows(actor?: string): Promise<void> {
    return this.write((ledger) => ledger.resetWindows(actor));
  }

  setPlan(name: string, actor?: string): Promise<void> {
    return this.write((ledger) => ledger.setPlan(name, actor));
  }

  setAutoUseCredits(on: boolean, actor?: string): Promise<void> {
    return this.write((ledger) => ledger.setAutoUseCredits(on, actor));
  }

  setAutoReload(cfg: AutoReloadSettings | null, actor?: string): Promise<void> {
    return this.write((ledger) => ledger.setAutoReload(cfg, actor));
  }

  getAutoReload(): Promise<AutoReloadSettings | null> {
    return answer(() => this.ledger.getAutoReload());
  }

  status(): Promise<Status> {
    return answer(() => this.ledger.status());
  }

  limits(): Promise<AccountLimits> {
    return answer(() => this.ledger.limits());
  }

  grants(): Promise<GrantRow[]> {
    return answer(() => this.ledger.grants());
  }

  creditLog(since?: number): Promise<CreditLog> {
    return answer(() => this.ledger.creditLog(since));
  }

  usageRows(q: UsageQuery): Promise<UsageRow[]> {
    return answer(() => this.ledger.usageRows(q));
  }

  usageGroups(q: UsageQuery & { groupBy: UsageGroupKey }): Promise<UsageGroup[]> {
    return answer(() => this.ledger.usageGroups(q));
  }

  checkBooks(): Promise<string[]> {
    return answer(() => this.ledger.checkBooks());
  }

  audit(limit?: number): Promise<AuditRow[]> {
    return answer(() => this.ledger.audit(limit));
  }

  issueToken(name: string, role?: TokenRole, seat = DEFAULT_SEAT): Promise<string> {
    return answer(() => {
      if (seat !== DEFAULT_SEAT) throw new LedgerError('invalid_argument', `seats need a team ledger (--database postgres://…); this one has only "${DEFAULT_SEAT}"`);
      return this.ledger.issueToken(name, role);
    });
  }

  authenticate(token: string): Promise<AuthenticatedClient | null> {
    return answer(() => this.ledger.authenticate(token));
  }

  private write<T>(run: (ledger: Ledger) => T): Promise<T> {
    return this.commits.run(run, { patienceMs: this.patienceMs });
  }

  close(): Promise<void> {
    return answer(() => {
      this.commits.close();
      this.ledger.close();
    });
  }
}

/** A synchronous answer (or its error) as a promise. */
function answer<T>(read: () => T): Promise<T> {
  try {
    return Promise.resolve(read());
  } catch (error) {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the ledger's own error, passed on as thrown
    return Promise.reject(error);
  }
}
