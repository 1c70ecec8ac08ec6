/**
 * The payment modules' pure parts (issue 11): the rate card's `payments` section, the Stripe keys
 * from the environment (and that messages lose them), which pack a buyer's choice names, and which
 * webhook events are Creditgate's to act on.
 */
import { describe, expect, it } from 'vitest';
import { describeIssues, rateCardSchema, type RateCard } from '../shared/rateCard';
import { chosenPack, findPack } from '../proxy/payments/checkout';
import { PurchaseRefused } from '../proxy/payments/errors';
import { parsePaymentEvent, purchaseIdOf } from '../proxy/payments/stripeEvents';
import { stripeFromEnv } from '../proxy/payments/stripeSetup';

const card = (payments?: object): RateCard =>
  rateCardSchema.parse({
    version: 't',
    creditUsd: 0.04,
    models: {},
    packs: [
      { credits: 100, usd: 4, label: '100 credits' },
      { credits: 500, usd: 19, label: 'Team 500' },
    ],
    ...(payments ? { payments } : {}),
  });

describe("the rate card's payments section", () => {
  it('defaults to admins buying with no limit, and names a bad key', () => {
    expect(card().payments).toBeUndefined();
    expect(card({ buyers: 'members', monthlyLimitUsd: 200 }).payments).toEqual({ buyers: 'members', monthlyLimitUsd: 200 });
    const bad = rateCardSchema.safeParse({ version: 't', creditUsd: 0.04, models: {}, payments: { buyers: 'everyone', monthlyLimitUsd: -1 } });
    expect(bad.success).toBe(false);
    const message = describeIssues(bad.error!);
    expect(message).toContain('payments.buyers');
    expect(message).toContain('payments.monthlyLimitUsd');
    expect(rateCardSchema.safeParse({ version: 't', creditUsd: 0.04, models: {}, payments: { sellers: 'x' } }).success).toBe(false);
  });
});

describe('choosing a pack', () => {
  it('by credits (text or number) or label; a number of credits is a pack when one matches, else priced at creditUsd', () => {
    expect(findPack(card(), '500')).toMatchObject({ credits: 500, price: 19 });
    expect(findPack(card(), 'team 500')).toMatchObject({ credits: 500 });
    expect(chosenPack(card(), { pack: 100 })).toMatchObject({ id: '100', price: 4 });
    expect(chosenPack(card(), { credits: 500 })).toMatchObject({ price: 19, label: 'Team 500' });
    expect(chosenPack(card(), { credits: 1234.5 })).toMatchObject({ id: '1234.5', credits: 1234.5, price: 49.38 });
    expect(() => findPack(card(), '42')).toThrow(PurchaseRefused);
    expect(() => chosenPack(card(), { credits: 12 })).toThrow(/at least 0\.50 USD/);
    expect(() => chosenPack(card(), { credits: 100.0000001 })).toThrow(/6 decimals/);
  });
});

describe('Stripe from the environment', () => {
  it('needs both secrets, says which one is missing, and keeps both out of messages', () => {
    expect(stripeFromEnv({})).toEqual({ kind: 'absent' });
    expect(stripeFromEnv({ STRIPE_SECRET_KEY: 'sk_test_1' })).toEqual({ kind: 'incomplete', missing: 'STRIPE_WEBHOOK_SECRET' });
    expect(stripeFromEnv({ STRIPE_WEBHOOK_SECRET: 'whsec_1' })).toEqual({ kind: 'incomplete', missing: 'STRIPE_SECRET_KEY' });
    const setup = stripeFromEnv({ STRIPE_SECRET_KEY: 'sk_test_abc', STRIPE_WEBHOOK_SECRET: 'whsec_def', CREDITGATE_STRIPE_API_URL: 'http://127.0.0.1:9' });
    if (!('stripe' in setup)) throw new Error('expected a Stripe setup');
    expect(setup.redact('bad key sk_test_abc, secret whsec_def')).toBe('bad key [redacted], secret [redacted]');
  });
});

describe('webhook events', () => {
  const session = { id: 'cs_1', object: 'checkout.session', payment_status: 'paid', amount_total: 400, currency: 'usd', metadata: {} };

  it('acts on session and charge events, passes other types as `other`, and refuses a known type of the wrong shape', () => {
    expect(parsePaymentEvent({ id: 'evt_1', type: 'checkout.session.completed', data: { object: session } })).toMatchObject({ kind: 'session', session: { id: 'cs_1' } });
    expect(parsePaymentEvent({ id: 'evt_2', type: 'invoice.paid', data: { object: { id: 'in_1' } } })).toEqual({ kind: 'other', id: 'evt_2', type: 'invoice.paid' });
    expect(() => parsePaymentEvent({ id: 'evt_3', type: 'checkout.session.completed', data: { object: { ...session, amount_total: 'lots' } } })).toThrow();
    expect(() => parsePaymentEvent({ type: 'checkout.session.completed', data: { object: session } })).toThrow();
  });

  it('only a UUID in the metadata (or client_reference_id) names a Creditgate purchase', () => {
    const id = '0b6f7c3e-4d1a-4f4e-9a43-2f0c6f1d2e3a';
    expect(purchaseIdOf({ creditgate_purchase: id })).toBe(id);
    expect(purchaseIdOf({}, id)).toBe(id);
    expect(purchaseIdOf({ creditgate_purchase: "x'; DROP TABLE purchases; --" })).toBeNull();
    expect(purchaseIdOf({})).toBeNull();
  });
});
