/**
 * Schema version 3 of the team ledger: Stripe Checkout purchases for the pool and the webhook events
 * that moved them (proxy/payments). Kept apart from the ledger's own rows: a purchase only names
 * the grant it paid for (by the grant's idempotency key, `stripe:<session id>`), and the money itself
 * is in `grants` like any other. Amounts: credits in micro-credits, prices in the currency's minor
 * unit (cents), both bigint; times unix ms.
 */
export const PAYMENTS_MIGRATION = `
  -- One row per "Add credits" a buyer started: created before Stripe is asked, so a session never
  -- exists that no row names. The id is the Checkout Session's idempotency key and metadata.
  CREATE TABLE purchases (
    id             text PRIMARY KEY,
    created_at     bigint NOT NULL,
    buyer          text NOT NULL,          -- the token's name
    seat           text,                   -- the buyer's seat; NULL for an admin token or the CLI
    pack           text NOT NULL,
    credits        bigint NOT NULL CHECK (credits > 0),
    price          bigint NOT NULL CHECK (price >= 0),
    currency       text NOT NULL,
    state          text NOT NULL CHECK (state IN ('creating', 'open', 'paid', 'failed', 'expired', 'error')),
    session_id     text UNIQUE,
    checkout_url   text,
    expires_at     bigint,
    payment_intent text,
    receipt_url    text,
    grant_key      text UNIQUE,            -- grants.idempotency_key once fulfilled
    grant_id       bigint,
    paid_at        bigint,
    refunded_price   bigint NOT NULL DEFAULT 0 CHECK (refunded_price >= 0),
    refunded_credits bigint NOT NULL DEFAULT 0 CHECK (refunded_credits >= 0),
    failure        text
  );
  CREATE INDEX purchases_month ON purchases (created_at);
  CREATE INDEX purchases_payment_intent ON purchases (payment_intent);

  -- Every Stripe event handled, once: a retry or a second delivery finds its id here.
  CREATE TABLE payment_events (
    id          text PRIMARY KEY,
    type        text NOT NULL,
    purchase_id text,
    received_at bigint NOT NULL
  );
`;
