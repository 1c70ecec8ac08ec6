/**
 * The ledger's schema as forward-only migrations, applied at open and tracked in `PRAGMA user_version`.
 * A migration is never edited once shipped: a change is a new entry at the end of the list.
 *
 * Money lives in four kinds of append-only rows: `grants` (credit in), `usage.credit_cost` and
 * `refunds` (credit out) and `credit_events` of kind `expire` (credit written off). The other credit
 * events are memos that move no money: `spend` says which grant paid for a charge or refund, `debt`
 * what no grant covered, `debt_repaid` what of a grant repaid debt. The single `account` row and each
 * grant's `remaining` and `refunded` hold running totals that must always equal what the rows add up
 * to (books.ts checks them).
 */
import type { Database } from 'better-sqlite3';

/** Grants without an expiry sort after every real timestamp in spending order. */
export const NO_EXPIRY_ORDER = Number.MAX_SAFE_INTEGER;

const MIGRATIONS: readonly string[] = [
  /* 1: initial schema */ `
  CREATE TABLE account (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    plan             TEXT,              -- NULL until a plan is first chosen
    auto_use_credits INTEGER,           -- NULL until first set
    auto_reload      TEXT,              -- JSON AutoReloadSettings, NULL when off
    balance          INTEGER NOT NULL DEFAULT 0,  -- Σ grants.amount − Σ usage.credit_cost − Σ expirations
    debt             INTEGER NOT NULL DEFAULT 0,  -- credit spent beyond all grants, repaid by the next grant
    credit_held      INTEGER NOT NULL DEFAULT 0,  -- Σ estimates of open credit holds
    plan_held        INTEGER NOT NULL DEFAULT 0,  -- Σ estimates of open plan holds (they count in every window)
    last_hold_id     INTEGER NOT NULL DEFAULT 0,  -- hold ids are never reused, even though settled holds are deleted
    next_expiry      INTEGER,                     -- earliest expiry of a grant with credit left, so the hot path need not scan
    last_usage_ts    INTEGER NOT NULL DEFAULT 0,  -- usage timestamps never decrease (see usage.ts below)
    -- The current period of each window (contract names 5h and weekly), kept here rather than in
    -- window_periods so that a post rewrites one row: these are the running totals of the open period.
    five_hour_period INTEGER,  -- window_periods.id, NULL when no period is open
    five_hour_ends   INTEGER,
    five_hour_used   INTEGER NOT NULL DEFAULT 0,
    weekly_period    INTEGER,
    weekly_ends      INTEGER,
    weekly_used      INTEGER NOT NULL DEFAULT 0
  );
  INSERT INTO account (id) VALUES (1);

  -- History of window periods: a row when one opens, completed when it is reset or superseded.
  CREATE TABLE window_periods (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    ends_at      INTEGER NOT NULL,
    closed_at    INTEGER,
    close_reason TEXT CHECK (close_reason IN ('expired', 'reset')),
    used         INTEGER  -- final plan usage, written at close
  );

  -- Pending transfers only: a post turns a hold into a usage row, a void drops it.
  CREATE TABLE holds (
    id             INTEGER PRIMARY KEY,
    ts             INTEGER NOT NULL,
    request_id     TEXT NOT NULL,
    client         TEXT NOT NULL,
    model          TEXT NOT NULL,
    route          TEXT NOT NULL,
    feature        TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('plan', 'credits')),
    estimate       INTEGER NOT NULL CHECK (estimate > 0),
    owner_pid      INTEGER NOT NULL,
    owner_instance TEXT NOT NULL
  );

  -- Like TigerBeetle's timestamps, usage ts never decreases along id (a clock stepping back is clamped),
  -- so a time range is an id range found by binary search: no ts index for every post to maintain.
  CREATE TABLE usage (
    id                  INTEGER PRIMARY KEY,
    ts                  INTEGER NOT NULL,
    hold_id             INTEGER NOT NULL,
    request_id          TEXT NOT NULL,
    client              TEXT NOT NULL,
    feature             TEXT NOT NULL,
    model               TEXT NOT NULL,
    route               TEXT NOT NULL,
    status              INTEGER NOT NULL,
    input_tokens        INTEGER NOT NULL,
    cached_input_tokens INTEGER NOT NULL,
    cache_write_tokens  INTEGER NOT NULL,
    output_tokens       INTEGER NOT NULL,
    reasoning_tokens    INTEGER NOT NULL,
    cost                INTEGER NOT NULL CHECK (cost >= 0),
    plan_cost           INTEGER NOT NULL CHECK (plan_cost >= 0),
    credit_cost         INTEGER NOT NULL CHECK (credit_cost >= 0),
    estimated           INTEGER NOT NULL,
    reason              TEXT,
    CHECK (plan_cost + credit_cost = cost)
  );

  CREATE TABLE grants (
    id              INTEGER PRIMARY KEY,
    ts              INTEGER NOT NULL,
    source          TEXT NOT NULL CHECK (source IN ('purchase', 'promo', 'refund', 'admin')),
    amount          INTEGER NOT NULL CHECK (amount > 0),
    remaining       INTEGER NOT NULL CHECK (remaining >= 0 AND remaining <= amount),
    expires_at      INTEGER,
    spend_order     INTEGER NOT NULL,  -- expires_at, or NO_EXPIRY_ORDER: spend what expires first
    idempotency_key TEXT UNIQUE
  );
  CREATE INDEX grants_spendable ON grants (spend_order, id) WHERE remaining > 0;

  CREATE TABLE credit_events (
    id       INTEGER PRIMARY KEY,
    ts       INTEGER NOT NULL,
    kind     TEXT NOT NULL CHECK (kind IN ('expire', 'debt', 'debt_repaid')),
    amount   INTEGER NOT NULL CHECK (amount > 0),
    grant_id INTEGER,
    usage_id INTEGER
  );

  CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,  -- sha256 of the token; the token itself is never stored
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
  );
  CREATE INDEX tokens_live ON tokens (name) WHERE revoked_at IS NULL;

  CREATE TABLE audit (
    id     INTEGER PRIMARY KEY,
    ts     INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL  -- JSON
  );
  `,
  /* 2: an admit writes its hold row and nothing else (one WAL page fewer per request). The held sums
     are read from the open holds, a table as small as the requests in flight. last_hold_id is now
     brought up to date when a hold is settled, so max(last_hold_id, max(holds.id)) + 1 is still an id
     never used before. */ `
  ALTER TABLE account DROP COLUMN credit_held;
  ALTER TABLE account DROP COLUMN plan_held;
  `,
  /* 3: the spendable-grants index no longer names \`remaining\`, so spending from a grant rewrites its
     row and not an index page too (SQLite updates a partial index whenever its WHERE columns are set).
     spent_at is set in the same statement that brings remaining to 0; rows spent before this
     migration get their grant's ts, the only time known for them. */ `
  ALTER TABLE grants ADD COLUMN spent_at INTEGER;  -- when remaining reached 0 (spent or expired), else NULL
  UPDATE grants SET spent_at = ts WHERE remaining = 0;
  DROP INDEX grants_spendable;
  CREATE INDEX grants_spendable ON grants (spend_order, id) WHERE spent_at IS NULL;
  `,
  /* 4: a post writes its usage row (and deletes its hold) but not this row: balance, window use,
     last_usage_ts and the hold ids of usage rows after totals_usage_id are folded in by whoever reads
     the totals (see fold.ts). The row is rewritten when anything else changes, and at least every
     FOLD_LIMIT posts so that a reader never folds many rows. revision tells a reader whether the
     totals it holds still rest on the stored row. */ `
  ALTER TABLE account ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE account ADD COLUMN totals_usage_id INTEGER NOT NULL DEFAULT 0;
  UPDATE account SET totals_usage_id = (SELECT coalesce(max(id), 0) FROM usage);
  `,
  /* 5: a token's role (tokens.ts): \`client\` spends and reads, \`admin\` may also change the account
     through the HTTP API. Tokens issued before roles existed could do everything; they become client
     tokens, so a token an agent keeps in its environment cannot add credits or lift its own limits. */ `
  ALTER TABLE tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'client' CHECK (role IN ('client', 'admin'));
  `,
  /* 6: a usage row priced by the rate card's default because the card does not list its model
     ("unpriced"): the user is told, and can find such rows. Rows before this migration were all priced
     by a listed rate or refused. */ `
  ALTER TABLE usage ADD COLUMN unpriced INTEGER NOT NULL DEFAULT 0;
  `,
  /* 7: the latest trusted time any process recorded (trustedTime.ts), so that a process whose wall
     clock jumped can tell: expiry and windows are measured from it with the monotonic clock. NULL until
     a process records one; the first reading is then trusted as it is. Each open period also keeps the
     measured time it opened at: it lasts no longer than its length by the monotonic clock, whatever
     the wall clock said when it opened (NULL for periods opened before). */ `
  ALTER TABLE account ADD COLUMN clock_time INTEGER;    -- unix ms
  ALTER TABLE account ADD COLUMN clock_mono INTEGER;    -- the system's monotonic clock then, in ms
  ALTER TABLE account ADD COLUMN clock_domain TEXT;     -- the boot that monotonic reading counts from
  ALTER TABLE account ADD COLUMN five_hour_from INTEGER;
  ALTER TABLE account ADD COLUMN weekly_from INTEGER;
  `,
  /* 8: credits as a log. Each charge's allocation rows say which grants paid for it (\`spend\` events,
     and \`debt\` for the rest); a refunded purchase takes its credits back by a \`refunds\` row, allocated
     the same way; a voided hold is kept in \`voided_holds\` rather than dropped. The balance history is a
     query over these rows (reports.ts creditMovements). Rows written before this version have no
     allocation rows: log_from_* mark where the complete log begins, for books.ts. credit_events is
     rebuilt because SQLite cannot change a CHECK constraint in place. */ `
  ALTER TABLE grants ADD COLUMN refunded INTEGER NOT NULL DEFAULT 0;  -- Σ refunds of this grant
  CREATE TABLE refunds (
    id              INTEGER PRIMARY KEY,
    ts              INTEGER NOT NULL,
    grant_id        INTEGER NOT NULL REFERENCES grants (id),
    amount          INTEGER NOT NULL CHECK (amount > 0),
    idempotency_key TEXT NOT NULL UNIQUE
  );
  CREATE TABLE credit_events_v8 (
    id        INTEGER PRIMARY KEY,
    ts        INTEGER NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('spend', 'expire', 'debt', 'debt_repaid')),
    amount    INTEGER NOT NULL CHECK (amount > 0),
    grant_id  INTEGER,
    usage_id  INTEGER,
    refund_id INTEGER,
    CHECK (usage_id IS NULL OR refund_id IS NULL)
  );
  INSERT INTO credit_events_v8 (id, ts, kind, amount, grant_id, usage_id)
    SELECT id, ts, kind, amount, grant_id, usage_id FROM credit_events;
  DROP TABLE credit_events;
  ALTER TABLE credit_events_v8 RENAME TO credit_events;
  CREATE TABLE voided_holds (
    id             INTEGER PRIMARY KEY,  -- the hold's id
    ts             INTEGER NOT NULL,     -- when it was placed
    voided_at      INTEGER NOT NULL,
    request_id     TEXT NOT NULL,
    client         TEXT NOT NULL,
    model          TEXT NOT NULL,
    route          TEXT NOT NULL,
    feature        TEXT NOT NULL,
    kind           TEXT NOT NULL,
    estimate       INTEGER NOT NULL
  );
  ALTER TABLE account ADD COLUMN log_from_usage_id INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE account ADD COLUMN log_from_grant_id INTEGER NOT NULL DEFAULT 0;
  UPDATE account SET log_from_usage_id = (SELECT coalesce(max(id), 0) FROM usage),
                     log_from_grant_id = (SELECT coalesce(max(id), 0) FROM grants);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the database up to SCHEMA_VERSION (tests stop earlier, to build an old file); refuses a
 * database written by a newer Creditgate.
 */
export function migrate(db: Database, target = SCHEMA_VERSION): void {
  db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > SCHEMA_VERSION) {
      throw new Error(
        `ledger schema version ${current} is newer than this Creditgate understands (${SCHEMA_VERSION}); upgrade Creditgate`,
      );
    }
    for (let version = current; version < target; version++) {
      db.exec(MIGRATIONS[version]!);
    }
    // user_version cannot take a bound parameter; the value is our own integer.
    if (current < target) db.pragma(`user_version = ${Math.trunc(target)}`);
  }).immediate();
}
