/**
 * Schema version 4 of the team ledger: what a write transaction reads (load.ts) and writes (flush.ts),
 * as functions kept in the database. Sent as SQL text, each was parsed and planned afresh on every transaction (the read:
 * about 0.2 ms of its 0.5 ms on the server); a plpgsql function's statements are planned once per connection
 * and reused, and the call itself is trivial to plan. (plpgsql, not LANGUAGE sql: PostgreSQL plans a
 * SQL function's body again on every call that does not inline it.) The STABLE ones read in their
 * caller's snapshot. The status view (postgresLedger.ts view) calls the
 * same pieces, so each read is written once.
 *
 * creditgate_load locks the pool's row first (every writer in every instance does: one lock order, no
 * deadlock), then reads the rest in a statement of its own: a VOLATILE function takes a new snapshot
 * for each statement, so that read sees everything committed by whoever held the lock before.
 */
export const LOAD_FUNCTIONS_MIGRATION = `
  -- Σ open holds: plan holds per seat, credit holds per seat and in all, and the newest hold's id.
  CREATE FUNCTION creditgate_held() RETURNS json LANGUAGE plpgsql STABLE AS $$ BEGIN
    RETURN (SELECT json_build_object(
      'plan', (SELECT coalesce(json_object_agg(seat, held), '{}') FROM
        (SELECT seat, sum(estimate) AS held FROM holds WHERE kind = 'plan' GROUP BY seat) by_seat),
      'creditsBySeat', (SELECT coalesce(json_object_agg(seat, held), '{}') FROM
        (SELECT seat, sum(estimate) AS held FROM holds WHERE kind = 'credits' GROUP BY seat) by_seat),
      'credits', coalesce(sum(estimate) FILTER (WHERE kind = 'credits'), 0),
      'maxId', coalesce(max(id), 0))
    FROM holds);
  END $$;

  -- The grants with credit left, in spending order.
  CREATE FUNCTION creditgate_live_grants() RETURNS json LANGUAGE plpgsql STABLE AS $$ BEGIN
    RETURN (SELECT coalesce(json_agg(g ORDER BY g.spend_order, g.id), '[]')
      FROM (SELECT id, remaining, expires_at, spend_order FROM grants WHERE spent_at IS NULL) g);
  END $$;

  -- The seats named, and the seats of the holds named (every seat when all_seats).
  CREATE FUNCTION creditgate_seats(seat_names text[], hold_ids bigint[], all_seats boolean) RETURNS json LANGUAGE plpgsql STABLE
  SET plan_cache_mode = force_generic_plan AS $$ BEGIN
    RETURN (SELECT coalesce(json_agg(s), '[]') FROM seats s
      WHERE all_seats OR s.name = ANY (seat_names) OR s.name IN (SELECT seat FROM holds WHERE id = ANY (hold_ids)));
  END $$;

  -- A write transaction's read, inside the caller's transaction: NULL when the pool's row is missing.
  -- live_after: instances whose heartbeat is newer are alive (asked for with all_holds, for recovery).
  CREATE FUNCTION creditgate_load(hold_ids bigint[], all_holds boolean, seat_names text[], all_seats boolean,
                                  grant_keys text[], key_prefix text, refund_keys text[], live_after timestamptz)
  RETURNS json LANGUAGE plpgsql VOLATILE
  -- Its plans are made once: a plan made afresh for each call's arrays would cost what text did.
  SET plan_cache_mode = force_generic_plan AS $$
  DECLARE
    pool json;
  BEGIN
    SELECT row_to_json(a) INTO pool FROM account a WHERE id = 1 FOR UPDATE;
    IF pool IS NULL THEN
      RETURN NULL;
    END IF;
    RETURN json_build_object(
      'account', pool,
      'held', creditgate_held(),
      'holds', (SELECT coalesce(json_agg(h ORDER BY h.id), '[]') FROM holds h WHERE all_holds OR h.id = ANY (hold_ids)),
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

  -- A write transaction's changes (flush.ts), in the caller's transaction: one JSON document with a key
  -- per kind of change (absent: none) and the account row's new totals. Usage after grants and holds: a
  -- charge's row refers to both by id.
  CREATE FUNCTION creditgate_flush(doc jsonb) RETURNS void LANGUAGE plpgsql VOLATILE AS $$
  BEGIN
    IF doc ? 'insertedHolds' THEN
      INSERT INTO holds SELECT * FROM jsonb_populate_recordset(NULL::holds, doc->'insertedHolds');
    END IF;
    IF doc ? 'deletedHolds' THEN
      DELETE FROM holds WHERE id IN (SELECT jsonb_array_elements_text(doc->'deletedHolds')::bigint);
    END IF;
    IF doc ? 'voidedHolds' THEN
      INSERT INTO voided_holds SELECT * FROM jsonb_populate_recordset(NULL::voided_holds, doc->'voidedHolds');
    END IF;
    IF doc ? 'insertedPeriods' THEN
      INSERT INTO window_periods SELECT * FROM jsonb_populate_recordset(NULL::window_periods, doc->'insertedPeriods');
    END IF;
    IF doc ? 'closedPeriods' THEN
      UPDATE window_periods p SET closed_at = v.closed_at, close_reason = v.close_reason, used = v.used
        FROM jsonb_populate_recordset(NULL::window_periods, doc->'closedPeriods') v WHERE p.id = v.id;
    END IF;
    IF doc ? 'insertedGrants' THEN
      INSERT INTO grants SELECT * FROM jsonb_populate_recordset(NULL::grants, doc->'insertedGrants');
    END IF;
    IF doc ? 'spentGrants' THEN
      UPDATE grants g SET remaining = v.remaining, spent_at = v.spent_at
        FROM jsonb_populate_recordset(NULL::grants, doc->'spentGrants') v WHERE g.id = v.id;
    END IF;
    IF doc ? 'refundedGrants' THEN
      UPDATE grants g SET refunded = g.refunded + v.refunded
        FROM jsonb_populate_recordset(NULL::grants, doc->'refundedGrants') v WHERE g.id = v.id;
    END IF;
    IF doc ? 'refunds' THEN
      INSERT INTO refunds SELECT * FROM jsonb_populate_recordset(NULL::refunds, doc->'refunds');
    END IF;
    IF doc ? 'usage' THEN
      INSERT INTO usage SELECT * FROM jsonb_populate_recordset(NULL::usage, doc->'usage');
    END IF;
    IF doc ? 'creditEvents' THEN
      INSERT INTO credit_events (ts, kind, amount, grant_id, usage_id, refund_id)
        SELECT ts, kind, amount, grant_id, usage_id, refund_id FROM jsonb_populate_recordset(NULL::credit_events, doc->'creditEvents');
    END IF;
    IF doc ? 'audit' THEN
      INSERT INTO audit (ts, actor, action, detail)
        SELECT ts, actor, action, detail FROM jsonb_populate_recordset(NULL::audit, doc->'audit');
    END IF;
    IF doc ? 'seats' THEN
      UPDATE seats s SET plan = v.plan, continue_on_pool = v.continue_on_pool,
          five_hour_period = v.five_hour_period, five_hour_ends = v.five_hour_ends, five_hour_used = v.five_hour_used,
          five_hour_from = v.five_hour_from, weekly_period = v.weekly_period, weekly_ends = v.weekly_ends,
          weekly_used = v.weekly_used, weekly_from = v.weekly_from, weekly_cap = v.weekly_cap, cap_used = v.cap_used,
          cap_week_start = v.cap_week_start
        FROM jsonb_populate_recordset(NULL::seats, doc->'seats') v WHERE s.name = v.name;
    END IF;
    UPDATE account a SET auto_reload = v.auto_reload, balance = v.balance, debt = v.debt, last_hold_id = v.last_hold_id,
        last_usage_id = v.last_usage_id, last_period_id = v.last_period_id, last_grant_id = v.last_grant_id,
        last_refund_id = v.last_refund_id, next_expiry = v.next_expiry, last_usage_ts = v.last_usage_ts,
        clock_time = v.clock_time, clock_mono = v.clock_mono, clock_domain = v.clock_domain, revision = a.revision + 1
      FROM jsonb_populate_record(NULL::account, doc->'account') v WHERE a.id = 1;
  END
  $$;
`;
