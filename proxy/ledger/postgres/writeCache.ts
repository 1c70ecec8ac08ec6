/**
 * What a write transaction leaves behind, kept so that the next one can start from it without loading
 * (postgresLedger.ts transaction): the account row with its revision and commit id, the seats it read
 * or wrote, the open holds it knows, the grants with credit left and the grants by key. While nobody
 * else has written since, the database holds exactly this (once the transaction that left it has
 * committed: one transaction is on the wire at a time), and a batch whose writes need nothing more
 * (admits on known seats, posts and voids of known holds) runs its rules on it and commits in one
 * round trip. creditgate_commit
 * (commitFunction.ts) checks, under the account row's lock, that the row is in exactly that state
 * before it applies anything: a stale copy costs a wasted round trip, never a wrong balance.
 */
import { RELOAD_KEY_ROOT } from '../autoReload';
import type { AccountRow } from '../rows';
import { DEFAULT_SEAT } from '../seats';
import type { Needs, SeatState } from './load';
import { copySeat } from './load';
import type { Loaded, SnapshotTx } from './snapshotTx';

export interface Kept {
  /** The account row's revision and commit id once the transaction committed. */
  revision: number;
  commitId: string;
  /** Bound to no seat, as toAccountRow gives it. */
  account: AccountRow;
  seats: ReadonlyMap<string, SeatState>;
  rows: ReturnType<SnapshotTx['after']>;
}

/** Where a transaction starts: the rows, the account row (bound to no seat) and the seats. */
export interface Start {
  loaded: Loaded;
  account: AccountRow;
  seats: Map<string, SeatState>;
}

/**
 * Whether the writes that declared `needs` can run on `kept` alone. Idempotency keys (a grant, a
 * refund), recovery and resets of every seat read rows nobody keeps; an unknown seat or hold may be
 * someone else's, or settled already: those load.
 */
export function servable(kept: Kept, needs: Needs): boolean {
  if (needs.allHolds || needs.allSeats || needs.grantKeys.size > 0 || needs.refundKeys.size > 0) return false;
  for (const seat of needs.seats) if (!kept.seats.has(seat)) return false;
  for (const id of needs.holdIds) {
    const hold = kept.rows.holds.get(id);
    if (!hold || !kept.seats.has(hold.seat ?? DEFAULT_SEAT)) return false;
  }
  return true;
}

/** The start a load would give, from what was kept (copied: the rules change what they are given). */
export function startFrom(kept: Kept, needs: Needs): Start {
  return {
    loaded: {
      ...kept.rows,
      requestedHolds: needs.holdIds,
      allHolds: false,
      requestedKeys: needs.grantKeys,
      refunds: new Map(),
      requestedRefundKeys: needs.refundKeys,
      keyPrefixes: [RELOAD_KEY_ROOT],
      liveInstances: new Set(),
    },
    // Bound to no seat (keep): its windows are the seats', copied below.
    account: { ...kept.account, periods: { '5h': null, weekly: null } },
    seats: new Map([...kept.seats].map(([name, seat]) => [name, copySeat(seat)])),
  };
}

/** What to keep of a transaction that commits at `revision`: its seats as it left them, and the rest. */
export function keep(revision: number, commitId: string, account: AccountRow, seats: ReadonlyMap<string, SeatState>, tx: SnapshotTx): Kept {
  const rows = tx.after();
  // As toAccountRow reads it back, field for field (one object shape, no delete): no seat bound, the
  // head grant looked up again.
  const unbound: AccountRow = {
    plan: null,
    autoUseCredits: null,
    autoReload: account.autoReload,
    balance: account.balance,
    debt: account.debt,
    creditHeld: account.creditHeld,
    planHeld: 0,
    lastHoldId: account.lastHoldId,
    nextExpiry: account.nextExpiry,
    lastUsageTs: account.lastUsageTs,
    periods: { '5h': null, weekly: null },
    clockMark: account.clockMark,
    revision,
    storedUsageId: rows.lastUsageId,
    totalsUsageId: rows.lastUsageId,
  };
  return { revision, commitId, account: unbound, seats, rows };
}
