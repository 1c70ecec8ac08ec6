/**
 * The PostgreSQL ledger's schema: the same rows as the SQLite schema (../schema.ts), in PostgreSQL's
 * types (money and times as bigint: integer micro-credits and unix ms), as forward-only migrations.
 * The version lives in `creditgate_schema`; migrations run under a transaction-scoped advisory lock, so
 * two processes starting at once apply them once (the second waits, then finds nothing to do).
 *
 * Unlike the SQLite file, the account row here is rewritten by every write transaction (it is locked
 * anyway, FOR UPDATE, to serialise writers across instances): there is no fold of later usage rows, so
 * `totals_usage_id` always equals the newest usage id. Row ids come from the account row's counters,
 * assigned by the rules inside the locked transaction, so a whole transaction's rows can be written in
 * one statement (store.ts).
 */
import type { ClientBase } from 'pg';
import { COMMIT_FUNCTION_MIGRATION } from './commitFunction';
import { WRITE_PATH_MIGRATION } from './writePathSchema';
import { LOAD_FUNCTIONS_MIGRATION } from './loadFunctions';
import { PAYMENTS_MIGRATION } from './paymentsSchema';

/** An arbitrary constant: the advisory lock that serialises migrations of one database. */
const MIGRATION_LOCK = 0x63_67_6c_64; // "cgld"

const MIGRATIONS: readonly string[] = [
  /* 1: the individual ledger's rows, as in SQLite schema version 7 */ `
  -- The org's pool: credits, what open requests hold of it, and the counters row ids come from.
  CREATE TABLE account (
    id               integer PRIMARY KEY CHECK (id = 1),
    auto_reload      jsonb,
    balance          bigint NOT NULL DEFAULT 0,
    debt             bigint NOT NULL DEFAULT 0 CHECK (debt >= 0),
    last_hold_id     bigint NOT NULL DEFAULT 0,
    last_usage_id    bigint NOT NULL DEFAULT 0,
    last_period_id   bigint NOT NULL DEFAULT 0,
    last_grant_id    bigint NOT NULL DEFAULT 0,
    next_expiry      bigint,
    last_usage_ts    bigint NOT NULL DEFAULT 0,
    clock_time       bigint,
    clock_mono       bigint,
    clock_domain     text,
    revision         bigint NOT NULL DEFAULT 0
  );
  INSERT INTO account (id) VALUES (1);

  -- Each member's plan and its windows (docs/product.md §8): \`default\` is the seat of individual use and of
  -- tokens issued without one. A removed seat keeps its history and admits nothing.
  CREATE TABLE seats (
    name             text PRIMARY KEY,
    plan             text,
    continue_on_pool boolean,   -- may it spend pool credits once its windows are used up (NULL: the default, yes)
    five_hour_period bigint,
    five_hour_ends   bigint,
    five_hour_used   bigint NOT NULL DEFAULT 0,
    five_hour_from   bigint,
    weekly_period    bigint,
    weekly_ends      bigint,
    weekly_used      bigint NOT NULL DEFAULT 0,
    weekly_from      bigint,
    weekly_cap       bigint CHECK (weekly_cap >= 0),  -- pool credits it may spend a week; NULL: no cap
    cap_used         bigint NOT NULL DEFAULT 0,       -- pool credits spent since cap_week_start
    cap_week_start   bigint,                          -- its first pool spend after the last cap week ended
    created_at       bigint NOT NULL,
    removed_at       bigint
  );
  INSERT INTO seats (name, created_at) VALUES ('default', (extract(epoch FROM now()) * 1000)::bigint);

  CREATE TABLE window_periods (
    id           bigint PRIMARY KEY,
    name         text NOT NULL,
    started_at   bigint NOT NULL,
    ends_at      bigint NOT NULL,
    closed_at    bigint,
    close_reason text CHECK (close_reason IN ('expired', 'reset')),
    used         bigint,
    seat         text NOT NULL REFERENCES seats (name)
  );

  -- Every open ledger (a gateway instance, a CLI command) while it runs: a hold whose instance stopped
  -- beating is settled at its estimate by a live one (postgresLedger.ts recover). Server time, so
  -- machines with different clocks agree on who is late.
  CREATE TABLE instances (
    id           text PRIMARY KEY,
    pid          integer NOT NULL,
    host         text NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
  );

  -- Pending transfers only; owner_instance names the instance that placed it.
  CREATE TABLE holds (
    id             bigint PRIMARY KEY,
    ts             bigint NOT NULL,
    request_id     text NOT NULL,
    client         text NOT NULL,
    model          text NOT NULL,
    route          text NOT NULL,
    feature        text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('plan', 'credits')),
    estimate       bigint NOT NULL CHECK (estimate > 0),
    owner_pid      integer NOT NULL,
    owner_instance text NOT NULL,
    seat           text NOT NULL REFERENCES seats (name)
  );

  CREATE TABLE usage (
    id                  bigint PRIMARY KEY,
    ts                  bigint NOT NULL,
    hold_id             bigint NOT NULL UNIQUE,  -- a hold is settled once, whichever instance settles it
    request_id          text NOT NULL,
    client              text NOT NULL,
    feature             text NOT NULL,
    model               text NOT NULL,
    route               text NOT NULL,
    status              integer NOT NULL,
    input_tokens        bigint NOT NULL,
    cached_input_tokens bigint NOT NULL,
    cache_write_tokens  bigint NOT NULL,
    output_tokens       bigint NOT NULL,
    reasoning_tokens    bigint NOT NULL,
    cost                bigint NOT NULL CHECK (cost >= 0),
    plan_cost           bigint NOT NULL CHECK (plan_cost >= 0),
    credit_cost         bigint NOT NULL CHECK (credit_cost >= 0),
    estimated           boolean NOT NULL,
    reason              text,
    unpriced            boolean NOT NULL,
    seat                text NOT NULL REFERENCES seats (name),
    CHECK (plan_cost + credit_cost = cost)
  );
  CREATE INDEX usage_ts ON usage (ts);

  CREATE TABLE grants (
    id              bigint PRIMARY KEY,
    ts              bigint NOT NULL,
    source          text NOT NULL CHECK (source IN ('purchase', 'promo', 'refund', 'admin')),
    amount          bigint NOT NULL CHECK (amount > 0),
    remaining       bigint NOT NULL CHECK (remaining >= 0 AND remaining <= amount),
    expires_at      bigint,
    spend_order     bigint NOT NULL,
    idempotency_key text NOT NULL UNIQUE,
    spent_at        bigint,
    CHECK ((remaining = 0) = (spent_at IS NOT NULL))
  );
  CREATE INDEX grants_spendable ON grants (spend_order, id) WHERE spent_at IS NULL;

  CREATE TABLE credit_events (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ts       bigint NOT NULL,
    kind     text NOT NULL CHECK (kind IN ('expire', 'debt', 'debt_repaid')),
    amount   bigint NOT NULL CHECK (amount > 0),
    grant_id bigint,
    usage_id bigint
  );

  CREATE TABLE tokens (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL,
    hash       text NOT NULL UNIQUE,
    role       text NOT NULL CHECK (role IN ('client', 'admin')),
    seat       text REFERENCES seats (name),  -- the seat a client token spends on; NULL for admin tokens
    created_at bigint NOT NULL,
    revoked_at bigint,
    CHECK ((role = 'admin') = (seat IS NULL))
  );
  CREATE INDEX tokens_live ON tokens (name) WHERE revoked_at IS NULL;

  CREATE TABLE audit (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ts     bigint NOT NULL,
    actor  text NOT NULL,
    action text NOT NULL,
    detail jsonb NOT NULL
  );
  `,
  /* 2: credits as a log, as in SQLite schema version 8: allocation rows (\`spend\` events), refunds,
     voided holds kept. Refund ids come from the account row's counter, like the other rows' ids. */ `
  ALTER TABLE grants ADD COLUMN refunded bigint NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= amount);
  CREATE TABLE refunds (
    id              bigint PRIMARY KEY,
    ts              bigint NOT NULL,
    grant_id        bigint NOT NULL REFERENCES grants (id),
    amount          bigint NOT NULL CHECK (amount > 0),
    idempotency_key text NOT NULL UNIQUE
  );
  ALTER TABLE credit_events DROP CONSTRAINT credit_events_kind_check;
  ALTER TABLE credit_events ADD CONSTRAINT credit_events_kind_check CHECK (kind IN ('spend', 'expire', 'debt', 'debt_repaid'));
  ALTER TABLE credit_events ADD COLUMN refund_id bigint;
  ALTER TABLE credit_events ADD CONSTRAINT credit_events_one_outflow CHECK (usage_id IS NULL OR refund_id IS NULL);
  CREATE TABLE voided_holds (
    id         bigint PRIMARY KEY,
    ts         bigint NOT NULL,
    voided_at  bigint NOT NULL,
    request_id text NOT NULL,
    client     text NOT NULL,
    model      text NOT NULL,
    route      text NOT NULL,
    feature    text NOT NULL,
    kind       text NOT NULL,
    estimate   bigint NOT NULL,
    seat       text NOT NULL REFERENCES seats (name)
  );
  ALTER TABLE account ADD COLUMN last_refund_id bigint NOT NULL DEFAULT 0;
  ALTER TABLE account ADD COLUMN log_from_usage_id bigint NOT NULL DEFAULT 0;
  ALTER TABLE account ADD COLUMN log_from_grant_id bigint NOT NULL DEFAULT 0;
  UPDATE account SET log_from_usage_id = last_usage_id, log_from_grant_id = last_grant_id;
  `,
  /* 3: Stripe Checkout purchases and their webhook events */ PAYMENTS_MIGRATION,
  /* 4: a write transaction's read as functions, planned once per connection */ LOAD_FUNCTIONS_MIGRATION,
  /* 5: a write transaction's commit, applied only at the revision its rules ran on */ COMMIT_FUNCTION_MIGRATION,
  /* 6: less work under the account row's lock: held totals, holds by index, no per-row seat check */ WRITE_PATH_MIGRATION,
];

export const PG_SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the database up to PG_SCHEMA_VERSION in one transaction; refuses a database written by a
 * newer Creditgate. Safe when several processes run it at once.
 */
export async function migratePostgres(client: ClientBase): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS creditgate_schema (version integer NOT NULL)');
    const { rows } = await client.query<{ version: number }>('SELECT version FROM creditgate_schema');
    const current = rows[0]?.version ?? 0;
    if (current > PG_SCHEMA_VERSION) {
      throw new Error(`ledger schema version ${current} is newer than this Creditgate understands (${PG_SCHEMA_VERSION}); upgrade Creditgate`);
    }
    for (let version = current; version < PG_SCHEMA_VERSION; version++) await client.query(MIGRATIONS[version]!);
    if (rows.length === 0) await client.query('INSERT INTO creditgate_schema (version) VALUES ($1)', [PG_SCHEMA_VERSION]);
    else if (current < PG_SCHEMA_VERSION) await client.query('UPDATE creditgate_schema SET version = $1', [PG_SCHEMA_VERSION]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
