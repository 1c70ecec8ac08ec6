/**
 * A team gateway's charges and voids: never dropped while this instance lives. A settlement that
 * finds the database out of reach is retried, with backoff, until it lands; the caller is told it is
 * "durable" when it has landed, or after DURABLE_WAIT_MS at the latest so that a client's response
 * does not hang on a database outage (the retries go on). If the instance dies before the database
 * comes back, a live instance settles the hold at its estimate (postgresLedger.ts recover): the
 * request is billed once either way, at its metered cost or at its estimate.
 */
import type { PostWithLimits, SettlementEvents } from '../settlements';
import type { AccountLimits, Charge } from '../rules';
import { LedgerError } from '../errors';
import type { PostgresLedger } from './postgresLedger';

const FIRST_RETRY_MS = 50;
const MAX_RETRY_MS = 2_000;
/** How long a response waits for its charge to land before it ends anyway (the charge keeps trying). */
const DURABLE_WAIT_MS = 5_000;
/** How long close() waits for the settlements still trying. */
const CLOSE_WAIT_MS = 10_000;

export class PostgresSettlements {
  private readonly trying = new Set<Promise<void>>();
  private closing = false;

  constructor(
    private readonly ledger: PostgresLedger,
    private readonly events: SettlementEvents,
  ) {}

  post(holdId: number, charge: Charge): Promise<void> {
    return this.keep(holdId, () => this.ledger.post(holdId, charge));
  }

  void(holdId: number): Promise<void> {
    return this.keep(holdId, () => this.ledger.void(holdId));
  }

  /** A shared ledger answers over the network: the settled limits come with the commit, not at once. */
  postWithLimits(holdId: number, charge: Charge): PostWithLimits {
    let limits: AccountLimits | null = null;
    const durable = this.keep(holdId, async () => {
      limits = (await this.ledger.post(holdId, charge)).limits;
    });
    return { durable, limits: durable.then(() => limits) };
  }

  voidNow(holdId: number): Promise<void> {
    return this.void(holdId);
  }

  /** Waits (a bounded time) for the settlements still trying; they stop trying after it. */
  async close(): Promise<void> {
    const pending = Promise.all(this.trying);
    await Promise.race([pending, new Promise((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref())]);
    this.closing = true;
  }

  private keep(holdId: number, settle: () => Promise<unknown>): Promise<void> {
    const landed = this.retry(holdId, settle);
    this.trying.add(landed);
    void landed.finally(() => this.trying.delete(landed));
    return Promise.race([landed, new Promise<void>((resolve) => setTimeout(resolve, DURABLE_WAIT_MS).unref())]);
  }

  private async retry(holdId: number, settle: () => Promise<unknown>): Promise<void> {
    let delay = FIRST_RETRY_MS;
    for (;;) {
      try {
        await settle();
        this.events.landed();
        return;
      } catch (error) {
        const outOfReach = error instanceof LedgerError && error.code === 'unavailable';
        if (!outOfReach || this.closing) {
          // Settled by another instance meanwhile (recovered at its estimate) counts as done.
          if (!(error instanceof LedgerError && error.code === 'hold_not_found')) this.events.failed(holdId, error);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(MAX_RETRY_MS, delay * 2);
      }
    }
  }
}
