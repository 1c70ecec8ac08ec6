/**
 * Credit grants as a ledger: grants in, charges and refunds out (spending the grant that expires
 * first), expired remainders written off by explicit rows, and spending beyond every grant carried as
 * debt that the next grant repays first. Each outflow leaves allocation rows (credit events of kind
 * `spend`, and `debt` for what no grant covered) that say which grant paid for it, so the log alone
 * tells every grant's remainder and the balance at any time (books.ts checks that it does). Every
 * function updates the account's running totals in the draft it is given; the caller writes the draft
 * back once per transaction.
 */
import type { Micro } from '../../shared/money';
import { formatCredits } from '../../shared/money';
import type { GrantSource } from '../../shared/protocol';
import { LedgerError } from './errors';
import type { AccountRow, KeyedGrant, LedgerTx, SpendableGrant } from './rows';

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
  if (repaid > 0) tx.insertCreditEvent({ ts: now, kind: 'debt_repaid', amount: repaid, grantId, usageId: null, refundId: null });
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

/** What an outflow of credit is for: a charge (its usage row) or a refund. Its allocation rows name it. */
export type Outflow = { usageId: number; refundId: null } | { usageId: null; refundId: number };

/** Takes `amount` from the grants in expiry order; what no grant covers becomes debt. */
export function spendCredits(tx: LedgerTx, account: AccountRow, now: number, amount: Micro, outflow: Outflow): void {
  let left = amount;
  while (left > 0) {
    const head = account.headGrant === undefined ? (account.headGrant = tx.headGrant() ?? null) : account.headGrant;
    if (!head) break;
    const taken = takeFromGrant(tx, now, head, left, outflow);
    account.headGrant = taken < head.remaining ? { id: head.id, remaining: head.remaining - taken } : undefined;
    left -= taken;
  }
  if (left > 0) {
    tx.insertCreditEvent({ ts: now, kind: 'debt', amount: left, grantId: null, ...outflow });
    account.debt += left;
  }
  account.balance -= amount;
}

/** Takes up to `amount` from one grant, with its allocation row; returns how much it took. */
function takeFromGrant(tx: LedgerTx, now: number, grant: SpendableGrant, amount: Micro, outflow: Outflow): Micro {
  const taken = Math.min(amount, grant.remaining);
  if (taken < grant.remaining) tx.spendGrant(grant.id, taken);
  else tx.exhaustGrant(grant.id, now);
  tx.insertCreditEvent({ ts: now, kind: 'spend', amount: taken, grantId: grant.id, ...outflow });
  return taken;
}

export interface RefundRequest {
  /** The idempotency key of the grant whose purchase was refunded. */
  grantKey: string;
  amount: Micro;
  /** One refund, one key: a repeated delivery of the same refund takes nothing more. */
  idempotencyKey: string;
}

/**
 * Takes back the credits of a refunded purchase: from what is left of its grant first (the credits
 * that money bought), then from the other grants in spending order, and what none covers becomes debt,
 * so the balance may go negative. A grant is never refunded beyond its amount.
 */
export function refundGrant(tx: LedgerTx, account: AccountRow, now: number, req: RefundRequest): { refundId: number; duplicate: boolean } {
  const grant = tx.grantByKey(req.grantKey);
  if (grant === undefined) throw new LedgerError('invalid_argument', `no grant was added with idempotency key "${req.grantKey}"`);
  const existing = tx.refundByKey(req.idempotencyKey);
  if (existing !== undefined) {
    if (existing.grantId === grant.id && existing.amount === req.amount) return { refundId: existing.id, duplicate: true };
    throw new LedgerError(
      'idempotency_conflict',
      `idempotency key "${req.idempotencyKey}" was already used for another refund (#${existing.id}: ` +
        `${formatCredits(existing.amount)} credits of grant #${existing.grantId}); use a new key for a new refund`,
    );
  }
  const refundable = grant.amount - grant.refunded;
  if (req.amount > refundable) {
    throw new LedgerError(
      'invalid_argument',
      `grant #${grant.id} has ${formatCredits(refundable)} credits left to refund, not ${formatCredits(req.amount)}`,
    );
  }
  const refundId = tx.insertRefund({ ts: now, grantId: grant.id, amount: req.amount, idempotencyKey: req.idempotencyKey });
  const outflow: Outflow = { usageId: null, refundId };
  const remaining = tx.grantRemaining(grant.id);
  const taken = remaining > 0 ? takeFromGrant(tx, now, { id: grant.id, remaining }, req.amount, outflow) : 0;
  account.balance -= taken;
  account.headGrant = undefined; // the refunded grant may have been the head
  spendCredits(tx, account, now, req.amount - taken, outflow);
  account.headGrant = undefined;
  account.nextExpiry = tx.nextGrantExpiry(); // the refunded grant may have been the next to expire
  return { refundId, duplicate: false };
}

/** Writes off the remainders of grants that have expired by `now`; cheap unless an expiry is due. */
export function expireDueGrants(tx: LedgerTx, account: AccountRow, now: number): void {
  if (account.nextExpiry === null || now < account.nextExpiry) return;
  for (const grant of tx.grantsExpiringBy(now)) {
    tx.exhaustGrant(grant.id, grant.expiresAt);
    tx.insertCreditEvent({ ts: grant.expiresAt, kind: 'expire', amount: grant.remaining, grantId: grant.id, usageId: null, refundId: null });
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
