/**
 * The purchases table (schema version 2, ledger/postgres/paymentsSchema.ts) on the team ledger's
 * database: a row is written before Stripe is asked for a Checkout Session, so every session names a
 * row; the webhook's changes to it are SQL text committed in the grant's own transaction
 * (fulfilment.ts), the rest are single statements here.
 */
import type pg from 'pg';
import type { Micro } from '../../shared/money';
import { microToCredits } from '../../shared/money';
import type { GrantReceipt, PurchaseState, PurchaseView } from '../../shared/payments';
import type { GrantRow } from '../../shared/protocol';
import { newPool, unavailable } from '../ledger/postgres/connection';

export interface PurchaseRow {
  id: string;
  created_at: number;
  buyer: string;
  seat: string | null;
  pack: string;
  credits: Micro;
  /** Minor units (cents). */
  price: number;
  currency: string;
  state: PurchaseState;
  session_id: string | null;
  checkout_url: string | null;
  expires_at: number | null;
  payment_intent: string | null;
  receipt_url: string | null;
  grant_key: string | null;
  grant_id: number | null;
  paid_at: number | null;
  refunded_price: number;
  refunded_credits: Micro;
  failure: string | null;
}

/** What a purchase is created with; the rest of its row comes from Stripe's answers and events. */
export type NewPurchase = Pick<PurchaseRow, 'id' | 'buyer' | 'seat' | 'pack' | 'credits' | 'price' | 'currency'>;

/** An arbitrary constant: serialises the monthly-limit check and the insert across instances. */
const PURCHASE_LOCK = 0x63_67_70_79; // "cgpy"

/** A purchase still `creating` after this long was left by a crash between the row and Stripe's answer. */
const STALE_CREATING_MS = 2 * 60 * 60 * 1000;

/** Thrown when a new purchase would take the month past the rate card's limit. */
export class MonthlyLimitError extends Error {}

export class Purchases {
  private constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
  ) {}

  static open(url: string): Purchases {
    const pool = newPool(url, 2);
    // An idle connection the server drops must not crash the process: the next query reconnects.
    pool.on('error', () => undefined);
    return new Purchases(pool, url);
  }

  close(): Promise<void> {
    return this.pool.end();
  }

  /**
   * Records a purchase about to be sent to Stripe, unless it would take this calendar month (UTC)
   * past `monthlyLimit` (minor units): paid purchases and Checkouts still open count.
   */
  async create(purchase: NewPurchase, now: number, monthlyLimit: number | null): Promise<void> {
    const client = await this.connect();
    try {
      await client.query('BEGIN');
      if (monthlyLimit !== null) {
        await client.query('SELECT pg_advisory_xact_lock($1)', [PURCHASE_LOCK]);
        const { rows } = await client.query<{ spent: number }>(
          `SELECT coalesce(sum(price), 0)::bigint AS spent FROM purchases
           WHERE created_at >= $1 AND (state = 'paid' OR (state = 'open' AND (expires_at IS NULL OR expires_at > $2))
             -- one being created now; one a crash left half made stops counting after the Checkout's lifetime
             OR (state = 'creating' AND created_at > $3))`,
          [monthStart(now), now, now - STALE_CREATING_MS],
        );
        const spent = rows[0]?.spent ?? 0;
        if (spent + purchase.price > monthlyLimit) {
          throw new MonthlyLimitError(
            `this purchase would take this month's purchases to ${money(spent + purchase.price, purchase.currency)}, ` +
              `over the gateway's monthly limit of ${money(monthlyLimit, purchase.currency)} (${money(spent, purchase.currency)} bought or open so far)`,
          );
        }
      }
      await client.query(
        `INSERT INTO purchases (id, created_at, buyer, seat, pack, credits, price, currency, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'creating')`,
        [purchase.id, now, purchase.buyer, purchase.seat, purchase.pack, purchase.credits, purchase.price, purchase.currency],
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error instanceof MonthlyLimitError ? error : unavailable(error, this.url);
    } finally {
      client.release();
    }
  }

  async opened(id: string, session: { id: string; url: string | null; expiresAt: number | null }): Promise<void> {
    // A webhook may have beaten this answer (paid already): only a row still being created opens.
    await this.query(
      `UPDATE purchases SET session_id = coalesce(session_id, $2), checkout_url = $3, expires_at = $4,
         state = CASE WHEN state = 'creating' THEN 'open' ELSE state END WHERE id = $1`,
      [id, session.id, session.url, session.expiresAt],
    );
  }

  /** Stripe refused the session: the row says why, and no money or credit moved. */
  async failedToOpen(id: string, reason: string): Promise<void> {
    await this.query(`UPDATE purchases SET state = 'error', failure = $2 WHERE id = $1 AND state = 'creating'`, [id, reason]);
  }

  async get(id: string): Promise<PurchaseRow | null> {
    const { rows } = await this.query<PurchaseRow>('SELECT * FROM purchases WHERE id = $1', [id]);
    return rows[0] ?? null;
  }

  /** The purchase a charge event is about: by the purchase id in its metadata, else by its PaymentIntent. */
  async ofCharge(purchaseId: string | null, paymentIntent: string | null): Promise<PurchaseRow | null> {
    const { rows } = await this.query<PurchaseRow>(
      'SELECT * FROM purchases WHERE id = $1 OR (payment_intent IS NOT NULL AND payment_intent = $2) ORDER BY id = $1 DESC LIMIT 1',
      [purchaseId ?? '', paymentIntent ?? ''],
    );
    return rows[0] ?? null;
  }

  /** Newest first: all of them, or those of one seat (null: bought without a seat, by an admin or the CLI). */
  async list(limit: number, only: { seat: string | null } | null): Promise<PurchaseRow[]> {
    const { rows } = await this.query<PurchaseRow>(
      `SELECT * FROM purchases WHERE NOT $2 OR seat IS NOT DISTINCT FROM $3 ORDER BY created_at DESC, id LIMIT $1`,
      [limit, only !== null, only?.seat ?? null],
    );
    return rows;
  }

  /** Records an event that changes no credit (a failure, an expiry, a receipt) with the row change it brings, in one statement. */
  async record(event: { id: string; type: string; purchaseId: string | null }, now: number, change: { sql: string; params: unknown[] } | null): Promise<void> {
    const client = await this.connect();
    try {
      await client.query('BEGIN');
      const { rowCount } = await client.query(
        'INSERT INTO payment_events (id, type, purchase_id, received_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING',
        [event.id, event.type, event.purchaseId, now],
      );
      if (rowCount === 1 && change) await client.query(change.sql, change.params);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw unavailable(error, this.url);
    } finally {
      client.release();
    }
  }

  /** A statement on the pool; a server out of reach is the ledger's `unavailable` (a 503 that says so). */
  private async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(text, params);
    } catch (error) {
      throw unavailable(error, this.url);
    }
  }

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      throw unavailable(error, this.url);
    }
  }

  /** Each grant a purchase paid for, with its receipt (credits list, the usage panel). */
  async withReceipts(grants: GrantRow[]): Promise<GrantRow[]> {
    const keys = grants.map((grant) => grant.idempotencyKey).filter((key): key is string => key?.startsWith('stripe:') === true);
    if (keys.length === 0) return grants;
    const { rows } = await this.query<PurchaseRow>('SELECT * FROM purchases WHERE grant_key = ANY($1)', [keys]);
    const byKey = new Map(rows.map((row) => [row.grant_key!, row]));
    return grants.map((grant) => {
      const row = grant.idempotencyKey === null ? undefined : byKey.get(grant.idempotencyKey);
      return row ? { ...grant, payment: receiptOf(row) } : grant;
    });
  }
}

export function receiptOf(row: PurchaseRow): GrantReceipt {
  return {
    purchaseId: row.id,
    price: row.price / 100,
    currency: row.currency,
    sessionId: row.session_id,
    receiptUrl: row.receipt_url,
    refundedCredits: microToCredits(row.refunded_credits),
  };
}

export function viewOf(row: PurchaseRow): PurchaseView {
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: row.id,
    createdAt: new Date(row.created_at).toISOString(),
    buyer: row.buyer,
    seat: row.seat,
    pack: row.pack,
    credits: microToCredits(row.credits),
    price: row.price / 100,
    currency: row.currency,
    state: row.state,
    sessionId: row.session_id,
    checkoutUrl: row.state === 'open' ? row.checkout_url : null,
    url: row.state === 'open' ? row.checkout_url : null,
    expiresAt: iso(row.expires_at),
    paidAt: iso(row.paid_at),
    receiptUrl: row.receipt_url,
    refundedCredits: microToCredits(row.refunded_credits),
    refundedPrice: row.refunded_price / 100,
    failure: row.failure,
  };
}

function monthStart(now: number): number {
  const date = new Date(now);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
}

function money(minor: number, currency: string): string {
  return `${(minor / 100).toFixed(2)} ${currency.toUpperCase()}`;
}
