/**
 * Schema version 5 of the team ledger: how a write transaction ends (flush.ts commitSql).
 *
 * creditgate_commit writes a transaction's changes (creditgate_flush) only while the account row is
 * still at the revision the rules ran on, under the row's lock, and tells whether it did. That lets an
 * instance that has been the only writer since its own last commit run the rules on the state it kept
 * from that commit (writeCache.ts) and send its changes in one round trip without loading anything: if
 * anyone else wrote meanwhile, nothing is applied and the batch runs again on a fresh load. The row
 * also names the commit that wrote it last (commit_id): revision and commit id together name one
 * state, whoever wrote it, so a state this instance computed but never got applied can never be taken
 * for the same revision written by someone else's commit. The rules stay in JavaScript: the function
 * compares two values, it decides nothing about money.
 *
 * After a load it also turns synchronous_commit off for its own transaction (flush.ts DURABLE_COMMIT
 * explains the durable commit that follows), so that such a commit is three statements instead of six.
 * In the one round trip it is the whole transaction, committed synchronously.
 *
 * The version also shortens what runs under the account row's lock, which bounds how many
 * transactions all instances together commit per second: creditgate_held sums the open holds in one
 * scan instead of three, creditgate_load finds the holds a batch names by their index (in a generic
 * plan, `all_holds OR id = ANY (...)` scanned the whole table, dead rows included) and
 * creditgate_flush deletes the settled ones by their index too.
 */
/** What differs between the versions of creditgate_flush (flushFunction). */
export interface FlushVersion {
  /** The document's rows of a kind (a table's type, a document key), as records of the table's type. */
  rows(type: string, key: string): string;
  /** The statement that inserts `placed` (records of type holds) into holds. */
  placeHolds(placed: string): string;
  /** The statement that deletes the holds whose ids the array `ids` names. */
  settleHolds(ids: string): string;
}

/** Version 5's. */
export const FLUSH_V5: FlushVersion = {
  rows: (type, key) => `jsonb_populate_recordset(NULL::${type}, doc->'${key}')`,
  placeHolds: (placed) => `INSERT INTO holds SELECT * FROM ${placed}`,
  settleHolds: (ids) => `DELETE FROM holds WHERE id = ANY (${ids})`,
};

export const COMMIT_FUNCTION_MIGRATION = `
  -- Which commit wrote the pool's row last: its writer's instance and a number (set by creditgate_flush
  -- from doc's account). With the revision it names one state, whoever else writes.
  ALTER TABLE account ADD COLUMN commit_id text;

  -- Applies doc (creditgate_flush) when the pool's row is at revision expected, written by commit
  -- expected_id; TRUE when it did. Locks the row first, as every writer does (a no-op when the caller's
  -- creditgate_load locked it). Not wait_for_flush: the transaction's commit will not wait for its WAL
  -- flush (the caller waits).
  CREATE FUNCTION creditgate_commit(expected bigint, expected_id text, doc jsonb, wait_for_flush boolean)
  RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
  DECLARE
    current account;
  BEGIN
    SELECT * INTO current FROM account WHERE id = 1 FOR UPDATE;
    IF current.revision IS DISTINCT FROM expected OR current.commit_id IS DISTINCT FROM expected_id THEN
      RETURN FALSE;
    END IF;
    PERFORM creditgate_flush(doc);
    IF NOT wait_for_flush THEN
      PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    RETURN TRUE;
  END
  $$;

  -- As in version 4 (loadFunctions.ts), the settled holds deleted by their index, and the commit named.
${flushFunction(FLUSH_V5)}

${heldFunction('(SELECT seat, kind, sum(estimate) AS held, max(id) AS max_id FROM holds GROUP BY seat, kind) by_seat')}

  -- As in version 4 (loadFunctions.ts), the named holds read by their index.
  CREATE OR REPLACE FUNCTION creditgate_load(hold_ids bigint[], all_holds boolean, seat_names text[], all_seats boolean,
                                             grant_keys text[], key_prefix text, refund_keys text[], live_after timestamptz)
  RETURNS json LANGUAGE plpgsql VOLATILE
  SET plan_cache_mode = force_generic_plan AS $$
  DECLARE
    pool json;
    open_holds json;
  BEGIN
    SELECT row_to_json(a) INTO pool FROM account a WHERE id = 1 FOR UPDATE;
    IF pool IS NULL THEN
      RETURN NULL;
    END IF;
    IF all_holds THEN
      open_holds := (SELECT coalesce(json_agg(h ORDER BY h.id), '[]') FROM holds h);
    ELSE
      open_holds := (SELECT coalesce(json_agg(h ORDER BY h.id), '[]') FROM holds h WHERE h.id = ANY (hold_ids));
    END IF;
    RETURN json_build_object(
      'account', pool,
      'held', creditgate_held(),
      'holds', open_holds,
      'live', creditgate_live_grants(),
      'seats', creditgate_seats(seat_names, hold_ids, all_seats OR all_holds),
      'keyed', (SELECT coalesce(json_agg(k), '[]') FROM
        (SELECT id, source, amount, expires_at, idempotency_key, refunded FROM grants
         WHERE idempotency_key = ANY (grant_keys) OR starts_with(idempotency_key, key_prefix)) k),
      'refunds', (SELECT coalesce(json_agg(r), '[]') FROM
        (SELECT id, grant_id, amount, idempotency_key FROM refunds WHERE idempotency_key = ANY (refund_keys)) r),
      'live_instances', CASE WHEN all_holds
        THEN (SELECT coalesce(json_agg(id), '[]') FROM instances WHERE heartbeat_at > live_after)
        ELSE '[]'::json END);
  END
  $$;
`;

/**
 * creditgate_flush: applies a commit's document (flush.ts), one statement per kind of row it holds.
 * Version 5 defines it, version 6 again (writePathSchema.ts).
 */
export function flushFunction(v: FlushVersion): string {
  return `  CREATE OR REPLACE FUNCTION creditgate_flush(doc jsonb) RETURNS void LANGUAGE plpgsql VOLATILE AS $$
  BEGIN
    IF doc ? 'insertedHolds' THEN
      ${v.placeHolds(v.rows('holds', 'insertedHolds'))};
    END IF;
    IF doc ? 'deletedHolds' THEN
      ${v.settleHolds("ARRAY(SELECT jsonb_array_elements_text(doc->'deletedHolds')::bigint)")};
    END IF;
    IF doc ? 'voidedHolds' THEN
      INSERT INTO voided_holds SELECT * FROM ${v.rows('voided_holds', 'voidedHolds')};
    END IF;
    IF doc ? 'insertedPeriods' THEN
      INSERT INTO window_periods SELECT * FROM ${v.rows('window_periods', 'insertedPeriods')};
    END IF;
    IF doc ? 'closedPeriods' THEN
      UPDATE window_periods p SET closed_at = v.closed_at, close_reason = v.close_reason, used = v.used
        FROM ${v.rows('window_periods', 'closedPeriods')} v WHERE p.id = v.id;
    END IF;
    IF doc ? 'insertedGrants' THEN
      INSERT INTO grants SELECT * FROM ${v.rows('grants', 'insertedGrants')};
    END IF;
    IF doc ? 'spentGrants' THEN
      UPDATE grants g SET remaining = v.remaining, spent_at = v.spent_at
        FROM ${v.rows('grants', 'spentGrants')} v WHERE g.id = v.id;
    END IF;
    IF doc ? 'refundedGrants' THEN
      UPDATE grants g SET refunded = g.refunded + v.refunded
        FROM ${v.rows('grants', 'refundedGrants')} v WHERE g.id = v.id;
    END IF;
    IF doc ? 'refunds' THEN
      INSERT INTO refunds SELECT * FROM ${v.rows('refunds', 'refunds')};
    END IF;
    IF doc ? 'usage' THEN
      INSERT INTO usage SELECT * FROM ${v.rows('usage', 'usage')};
    END IF;
    IF doc ? 'creditEvents' THEN
      INSERT INTO credit_events (ts, kind, amount, grant_id, usage_id, refund_id)
        SELECT ts, kind, amount, grant_id, usage_id, refund_id FROM ${v.rows('credit_events', 'creditEvents')};
    END IF;
    IF doc ? 'audit' THEN
      INSERT INTO audit (ts, actor, action, detail)
        SELECT ts, actor, action, detail FROM ${v.rows('audit', 'audit')};
    END IF;
    IF doc ? 'seats' THEN
      UPDATE seats s SET plan = v.plan, continue_on_pool = v.continue_on_pool,
          five_hour_period = v.five_hour_period, five_hour_ends = v.five_hour_ends, five_hour_used = v.five_hour_used,
          five_hour_from = v.five_hour_from, weekly_period = v.weekly_period, weekly_ends = v.weekly_ends,
          weekly_used = v.weekly_used, weekly_from = v.weekly_from, weekly_cap = v.weekly_cap, cap_used = v.cap_used,
          cap_week_start = v.cap_week_start
        FROM ${v.rows('seats', 'seats')} v WHERE s.name = v.name;
    END IF;
    UPDATE account a SET auto_reload = v.auto_reload, balance = v.balance, debt = v.debt, last_hold_id = v.last_hold_id,
        last_usage_id = v.last_usage_id, last_period_id = v.last_period_id, last_grant_id = v.last_grant_id,
        last_refund_id = v.last_refund_id, next_expiry = v.next_expiry, last_usage_ts = v.last_usage_ts,
        clock_time = v.clock_time, clock_mono = v.clock_mono, clock_domain = v.clock_domain, revision = a.revision + 1,
        commit_id = v.commit_id
      FROM jsonb_populate_record(NULL::account, doc->'account') v WHERE a.id = 1;
  END
  $$;
`;
}

/**
 * creditgate_held: Σ open holds as load.ts Held, from `sums`, rows of (seat, kind, held, max_id): summed
 * from the holds in version 5, read from the running totals in version 6 (writePathSchema.ts).
 */
export function heldFunction(sums: string): string {
  return `  CREATE OR REPLACE FUNCTION creditgate_held() RETURNS json LANGUAGE plpgsql STABLE AS $$ BEGIN
    RETURN (SELECT json_build_object(
      'plan', coalesce(json_object_agg(seat, held) FILTER (WHERE kind = 'plan'), '{}'),
      'creditsBySeat', coalesce(json_object_agg(seat, held) FILTER (WHERE kind = 'credits'), '{}'),
      'credits', coalesce(sum(held) FILTER (WHERE kind = 'credits'), 0),
      'maxId', coalesce(max(max_id), 0))
    FROM ${sums});
  END $$;`;
}
