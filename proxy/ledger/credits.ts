/**
 * Credit grants as a ledger: grants in, charges out (spending the grant that expires first), expired
 * remainders written off by explicit rows, and spending beyond every grant carried as debt that the next
 * grant repays first. Every function updates the account's running totals in the draft it is given;
 * the caller writes the draft back once per transaction.
 */
import type { Micro } from '../../shared/money';
import { formatCredits } from '../../shared/money';
import type { GrantSource } from '../../shared/protocol';
import { LedgerError } from './errors';
import type { AccountRow, KeyedGrant, LedgerTx } from './rows';

export interface NewGrant {
  source: GrantSource;
  amount: Micro;
  idempotencyKey: string;
  expiresAt: number | null;
}

export function addGrant(tx: LedgerTx, account: AccountRow, now: number, grant: NewGrant): { grantId: number; duplicate: boolean } {
  const existing = tx.grantByKey(grant.idempotencyKey);
  if (existing !== undefined) {
    // A retry of the same purchase is a no-op; the same key on other terms is a mistake to report,
    // never a silent "done" that leaves the second purchase unrecorded.
    if (sameTerms(existing, grant)) return { grantId: existing.id, duplicate: true };
    throw new LedgerError(
      'idempotency_conflict',
      `idempotency key "${grant.idempotencyKey}" was already used for a different purchase (grant #${existing.id}: ` +
        `${describeTerms(existing)}; this one: ${describeTerms(grant)}); use a new key for a new purchase`,
    );
  }
  if (grant.expiresAt !== null && grant.expiresAt <= now) {
    throw new LedgerError('invalid_argument', 'a grant cannot expire before it is added');
  }
  // Debt is repaid first: the grant's remainder shrinks, the balance still rises by the full amount.
  const repaid = Math.min(account.debt, grant.amount);
  const grantId = tx.insertGrant({
    ts: now,
    source: grant.source,
    amount: grant.amount,
    remaining: grant.amount - repaid,
    expiresAt: grant.expiresAt,
    idempotencyKey: grant.idempotencyKey,
  });
  if (repaid > 0) tx.insertCreditEvent(now, 'debt_repaid', repaid, grantId, null);
  account.headGrant = undefined; // the new grant may expire first
  account.debt -= repaid;
  account.balance += grant.amount;
  if (grant.expiresAt !== null && repaid < grant.amount) {
    account.nextExpiry = account.nextExpiry === null ? grant.expiresAt : Math.min(account.nextExpiry, grant.expiresAt);
  }
  return { grantId, duplicate: false };
}

function sameTerms(stored: KeyedGrant, grant: NewGrant): boolean {
  return stored.amount === grant.amount && stored.source === grant.source && stored.expiresAt === grant.expiresAt;
}

function describeTerms(g: { amount: Micro; source: GrantSource; expiresAt: number | null }): string {
  const expiry = g.expiresAt === null ? 'no expiry' : `expires ${new Date(g.expiresAt).toISOString()}`;
  return `${formatCredits(g.amount)} credits, ${g.source}, ${expiry}`;
}

/** Takes `amount` from the grants in expiry order; what no grant covers becomes debt. */
export function spendCredits(tx: LedgerTx, account: AccountRow, now: number, amount: Micro, usageId: number): void {
  let left = amount;
  while (left > 0) {
    const head = account.headGrant === undefined ? (account.headGrant = tx.headGrant() ?? null) : account.headGrant;
    if (!head) break;
    if (left < head.remaining) {
      tx.spendGrant(head.id, left);
      account.headGrant = { id: head.id, remaining: head.remaining - left };
      left = 0;
    } else {
      tx.exhaustGrant(head.id, now);
      account.headGrant = undefined;
      left -= head.remaining;
    }
  }
  if (left > 0) {
    tx.insertCreditEvent(now, 'debt', left, null, usageId);
    account.debt += left;
  }
  account.balance -= amount;
}

/** Writes off the remainders of grants that have expired by `now`; cheap unless an expiry is due. */
export function expireDueGrants(tx: LedgerTx, account: AccountRow, now: number): void {
  if (account.nextExpiry === null || now < account.nextExpiry) return;
  for (const grant of tx.grantsExpiringBy(now)) {
    tx.exhaustGrant(grant.id, grant.expiresAt);
    tx.insertCreditEvent(grant.expiresAt, 'expire', grant.remaining, grant.id, null);
    account.balance -= grant.remaining;
  }
  account.headGrant = undefined;
  account.nextExpiry = tx.nextGrantExpiry();
}

/**
 * What expireDueGrants would write off by `now`, without writing it: a view shows the balance as it
 * will be, and must not take the write lock to do so (the next write books the expiry).
 */
export function dueExpiry(tx: LedgerTx, account: AccountRow, now: number): Micro {
  if (account.nextExpiry === null || now < account.nextExpiry) return 0;
  let due = 0;
  for (const grant of tx.grantsExpiringBy(now)) due += grant.remaining;
  return due;
}
