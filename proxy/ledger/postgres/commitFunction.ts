/**
 * Schema version 5 of the team ledger: how a write transaction ends (flush.ts commitSql).
 *
 * creditgate_commit writes a transaction's changes (creditgate_flush) only while the account row is
 * still at the revision the rules ran on, under the row's lock, and tells whether it did. That lets an
 * instance that has been the only writer since its own last commit run the rules on the state it kept
 * from that commit (writeCache.ts) and send its changes in one round trip without loading anything: if
 * anyone else wrote meanwhile, nothing is applied and the batch runs again on a fresh load. The rules
 * stay in JavaScript: the function compares one number, it decides nothing about money.
 *
 * It also turns synchronous_commit off for its own transaction (flush.ts DURABLE_COMMIT explains the
 * durable commit that follows), so that a commit is three statements instead of six.
 */
export const COMMIT_FUNCTION_MIGRATION = `
  -- Applies doc (creditgate_flush) when the pool's row is at revision expected; TRUE when it did.
  -- Locks the row first, as every writer does (a no-op when the caller's creditgate_load locked it).
  CREATE FUNCTION creditgate_commit(expected bigint, doc jsonb) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
  DECLARE
    current bigint;
  BEGIN
    SELECT revision INTO current FROM account WHERE id = 1 FOR UPDATE;
    IF current IS DISTINCT FROM expected THEN
      RETURN FALSE;
    END IF;
    PERFORM creditgate_flush(doc);
    PERFORM set_config('synchronous_commit', 'off', true);
    RETURN TRUE;
  END
  $$;
`;
