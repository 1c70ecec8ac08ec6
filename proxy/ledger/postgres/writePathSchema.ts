/**
 * Schema version 6 of the team ledger: less work under the account row's lock, which every writer of
 * every instance takes, so that what one transaction does there bounds how many all of them commit
 * per second. Measured with `npm run bench:ledger -- --store postgres` (3 processes, 64 pairs in
 * flight each, in the same runs): 10.5k pairs/s and 70 µs of server CPU per pair before, 14.1–15.6k and
 * 42–46 µs after, beside the SQLite store's 26–29k; over 20 s (--seconds 20) the old schema fell to 7.5k
 * as dead holds piled up (110 µs of server CPU per pair), the new one held 16.5k.
 *
 * - **Σ open holds as running totals.** Every write transaction (and every status) needs what the
 *   open holds add up to per seat and kind. Summing the holds table for it read every row version
 *   still in the table: a hold is inserted at admission and deleted at settlement, so between two
 *   autovacuum runs the table fills with dead rows and the sum grew with them (1.2–3.6 ms after ~30k
 *   pairs, more than the whole rest of a 64-write transaction). creditgate_flush now keeps the sums in
 *   `held_totals`, in the same statement that inserts or deletes the holds (statement triggers did the
 *   same at ~75 µs more per commit), and `creditgate verify` (books.ts) checks them against Σ holds.
 *   Holds are only ever inserted and deleted: an UPDATE or TRUNCATE, which nothing would count, is
 *   refused.
 * - **Holds found by their index, always.** A plpgsql function's plans are made once per connection
 *   (loadFunctions.ts), when the holds table may be one page, for which a sequential scan is cheapest;
 *   the plan stays while dead rows pile up. Write connections plan without sequential scans
 *   (postgresLedger.ts WRITER_SETTINGS), and so does creditgate_seats, which status reads call too.
 * - **No per-row foreign-key check on the busiest tables.** Each hold and usage row checked its seat
 *   with a lookup and a row lock on `seats` (~10% of the server's CPU per pair). Seats are never
 *   deleted (a removed seat keeps its row) and the rules only write rows for a seat they loaded, so
 *   the check could not fail; `creditgate verify` now counts rows that name no seat instead.
 * - **Rows sent once, differences after.** A commit's document (flush.ts) carried every column of
 *   every hold and usage row, key names included: ~330 bytes per write, written to the socket, lexed
 *   and parsed as JSON under the lock. A batch's rows of one kind mostly share their client, model,
 *   route, seat, status and more: its first row now goes in as a base, and each row carries only what
 *   differs from it (jsonb_populate_recordset fills the rest from the base).
 * - **A BRIN index on usage.ts.** Rows arrive in time order; a block-range index serves the reports'
 *   time ranges at a fraction of a b-tree's cost per insert.
 *
 * The totals are updated inside the writer's transaction, which holds the account row's lock, so their
 * updates never wait on each other.
 */
import { flushFunction, heldFunction, type FlushVersion } from './commitFunction';

/**
 * Version 6's creditgate_flush: each kind of row read on top of its base row when the document has
 * one (flush.ts), what a row leaves out being its base's; and the holds placed and settled counted
 * into held_totals in the same statement.
 */
const FLUSH_V6: FlushVersion = {
  rows: (type, key) => `jsonb_populate_recordset(jsonb_populate_record(NULL::${type}, doc->'base'->'${key}'), doc->'${key}')`,
  placeHolds: (placed) => `WITH placed AS (INSERT INTO holds SELECT * FROM ${placed} RETURNING seat, kind, estimate, id)
      INSERT INTO held_totals AS t (seat, kind, held, max_id) SELECT seat, kind, sum(estimate), max(id) FROM placed GROUP BY seat, kind
        ON CONFLICT (seat, kind) DO UPDATE SET held = t.held + excluded.held, max_id = greatest(t.max_id, excluded.max_id)`,
  settleHolds: (ids) => `WITH settled AS (DELETE FROM holds WHERE id = ANY (${ids}) RETURNING seat, kind, estimate)
      UPDATE held_totals t SET held = t.held - s.held
        FROM (SELECT seat, kind, sum(estimate) AS held FROM settled GROUP BY seat, kind) s WHERE t.seat = s.seat AND t.kind = s.kind`,
};

export const WRITE_PATH_MIGRATION = `
  CREATE TABLE held_totals (
    seat   text NOT NULL,
    kind   text NOT NULL,
    held   bigint NOT NULL,
    -- The newest hold id ever placed (the account row's last_hold_id covers it too; load.ts reads both).
    max_id bigint NOT NULL,
    PRIMARY KEY (seat, kind)
  );
  INSERT INTO held_totals (seat, kind, held, max_id) SELECT seat, kind, sum(estimate), max(id) FROM holds GROUP BY seat, kind;

  CREATE FUNCTION creditgate_holds_unchanged() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    RAISE EXCEPTION 'holds are only inserted and deleted (% would put held_totals out of step)', TG_OP;
  END $$;
  CREATE TRIGGER holds_unchanged BEFORE UPDATE OR TRUNCATE ON holds
    FOR EACH STATEMENT EXECUTE FUNCTION creditgate_holds_unchanged();

  -- As in version 5 (commitFunction.ts), the same JSON, read from the totals instead of the holds.
${heldFunction('held_totals')}

  -- Write connections plan without sequential scans (postgresLedger.ts takeWriter); a status read, on
  -- another connection, calls this one too.
  ALTER FUNCTION creditgate_seats(text[], bigint[], boolean) SET enable_seqscan = off SET jit = off;

${flushFunction(FLUSH_V6)}

  ALTER TABLE holds DROP CONSTRAINT holds_seat_fkey;
  ALTER TABLE usage DROP CONSTRAINT usage_seat_fkey;

  DROP INDEX usage_ts;
  CREATE INDEX usage_ts ON usage USING brin (ts);
`;

/**
 * The books check's figures that only PostgreSQL has (books.ts): (seat, kind) pairs whose running
 * total is not Σ open holds, and hold or usage rows that name no seat.
 */
export const WRITE_PATH_BOOKS_SQL = `
  (SELECT count(*) FROM held_totals t
     FULL JOIN (SELECT seat, kind, sum(estimate) AS held FROM holds GROUP BY seat, kind) h USING (seat, kind)
     WHERE coalesce(t.held, 0) <> coalesce(h.held, 0)) AS held_off,
  (SELECT count(*) FROM (SELECT seat FROM holds UNION ALL SELECT seat FROM usage) r
     WHERE NOT EXISTS (SELECT 1 FROM seats s WHERE s.name = r.seat)) AS seatless`;
