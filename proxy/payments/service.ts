/**
 * Payments on a team gateway, assembled: the Stripe account (from the environment, or absent), the
 * rate card's packs and policy, the purchases table and the fulfilment of Stripe's events. A gateway
 * without Stripe keys still answers what it can: that it does not sell credits, and whom to ask.
 */
import type { PaymentOptions, PurchaseView, StartPurchaseBody } from '../../shared/payments';
import type { GrantRow } from '../../shared/protocol';
import type { PaymentsPolicy, RateCard } from '../../shared/rateCard';
import type { Logger } from '../gateway/context';
import type { PostgresLedger } from '../ledger/postgres/postgresLedger';
import { chosenPack, salePacks, startCheckout, type Buyer } from './checkout';
import { PaymentNotYetKnown, PurchaseRefused } from './errors';
import { Fulfilment, type Outcome } from './fulfilment';
import { MonthlyLimitError, Purchases, viewOf } from './purchases';
import { stripeFromEnv, type StripeSetup } from './stripeSetup';
import { verifiedEvent } from './webhook';

export interface PaymentsOptions {
  ledger: PostgresLedger;
  databaseUrl: string;
  rateCard: RateCard;
  env: NodeJS.ProcessEnv;
  log: Logger;
  clock?: () => number;
}

/** Who is asking: a token's name, role and seat (the CLI acts as an admin named `cli`). */
export interface PaymentsClient {
  name: string;
  role: 'admin' | 'client';
  seat?: string;
}

export class Payments {
  private readonly setup: StripeSetup | null;
  private readonly policy: PaymentsPolicy;
  private readonly fulfilment: Fulfilment;
  private readonly clock: () => number;
  private readonly org: string;

  private constructor(
    private readonly config: PaymentsOptions,
    readonly purchases: Purchases,
  ) {
    const found = stripeFromEnv(config.env);
    this.setup = 'stripe' in found ? found : null;
    if (!('stripe' in found) && found.kind === 'incomplete') {
      config.log.warn(`payments are off: ${found.missing} is not set (Stripe Checkout needs STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET)`);
    }
    this.policy = config.rateCard.payments ?? { buyers: 'admins' };
    this.clock = config.clock ?? Date.now;
    this.org = this.policy.org ?? databaseName(config.databaseUrl);
    this.fulfilment = new Fulfilment(config.ledger, purchases, config.log, this.clock);
  }

  static open(options: PaymentsOptions): Payments {
    return new Payments(options, Purchases.open(options.databaseUrl));
  }

  get enabled(): boolean {
    return this.setup !== null;
  }

  close(): Promise<void> {
    return this.purchases.close();
  }

  options(client: PaymentsClient): PaymentOptions {
    const reason = this.refusal(client);
    return { enabled: this.enabled, mayBuy: reason === null, reason, packs: salePacks(this.config.rateCard) };
  }

  /** Creates a Checkout Session for `packName`; the buyer pays at its `checkoutUrl`. */
  async start(client: PaymentsClient, choice: StartPurchaseBody, returnUrl: string): Promise<PurchaseView> {
    const reason = this.refusal(client);
    if (reason !== null) throw new PurchaseRefused(this.enabled ? 'permission' : 'conflict', reason);
    const pack = chosenPack(this.config.rateCard, choice);
    const buyer: Buyer = { name: client.name, seat: client.seat ?? null };
    const limit = this.policy.monthlyLimitUsd === undefined ? null : Math.round(this.policy.monthlyLimitUsd * 100);
    try {
      return await startCheckout(this.setup!, this.purchases, { buyer, pack, org: this.org, returnUrl, monthlyLimit: limit }, this.clock());
    } catch (error) {
      if (error instanceof MonthlyLimitError) throw new PurchaseRefused('conflict', `Not started: ${error.message}.${this.askWhom()}`);
      throw error;
    }
  }

  /** A purchase as its buyer may see it: an admin sees every one, a member those of its seat. */
  async purchase(client: PaymentsClient, id: string): Promise<PurchaseView | null> {
    const row = await this.purchases.get(id);
    if (!row || (client.role !== 'admin' && row.seat !== (client.seat ?? null))) return null;
    return viewOf(row);
  }

  async list(client: PaymentsClient, limit = 100): Promise<PurchaseView[]> {
    const rows = await this.purchases.list(limit, client.role === 'admin' ? null : { seat: client.seat ?? null });
    return rows.map(viewOf);
  }

  withReceipts(grants: GrantRow[]): Promise<GrantRow[]> {
    return this.purchases.withReceipts(grants);
  }

  /** Verifies and applies one webhook delivery; throws WebhookRefused for a bad signature or body. */
  async receive(rawBody: Buffer, signature: string | string[] | undefined): Promise<Outcome> {
    // Not verifiable here: not 2xx, so that Stripe delivers it again once the keys are set.
    if (!this.setup) throw new PaymentNotYetKnown('this gateway has no Stripe keys (STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET) to verify the event with');
    return this.fulfilment.apply(verifiedEvent(this.setup.stripe, this.setup.webhookSecret, rawBody, signature));
  }

  /** Why this client may not buy here, naming whom to ask; null when it may. */
  private refusal(client: PaymentsClient): string | null {
    if (!this.enabled) {
      return `This team gateway does not sell credits: its Stripe keys are not configured.${this.askWhom()}`;
    }
    if (this.policy.buyers === 'admins' && client.role !== 'admin') {
      return `On this team gateway only admins buy credits for the pool.${this.askWhom()}`;
    }
    return null;
  }

  private askWhom(): string {
    const contact = this.policy.contact ? `: ${this.policy.contact}` : ' (whoever runs the Creditgate gateway)';
    return ` Ask your team's Creditgate admin${contact}.`;
  }
}

function databaseName(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || 'team';
  } catch {
    return 'team';
  }
}
