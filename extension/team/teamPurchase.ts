/**
 * "Add Credits…" attached to a team gateway (issue 11): real money. The gateway says whether it
 * sells and to whom; the user picks a pack; the gateway creates a Stripe Checkout Session; the
 * browser opens it; the editor waits ("Waiting for the payment…", cancellable) until the purchase is
 * paid, fails or expires. The credit itself arrives through the status stream like any change (the
 * status bar shows the new pool within a second of Stripe's webhook); the wait only follows the
 * purchase's state, to say how it ended. No vscode import: the UI is passed in, so the flow runs
 * against a real gateway in a test.
 */
import type { PaymentOptions, PurchaseView, SalePack } from '../../shared/payments';
import { PaymentOptionsRequest, PurchaseRequest, StartPurchaseRequest } from '../../shared/rpc';
import type { GatewayRequests } from '../presentation/usagePanelData';
import { formatCredits } from '../../shared/format';

export interface PurchaseUi {
  pickPack(packs: SalePack[]): Promise<SalePack | undefined>;
  /** Opens the Checkout page in the browser; false when the editor could not. */
  openExternal(url: string): Promise<boolean>;
  /** Runs `wait` under a cancellable progress notification titled `title`. */
  withProgress<T>(title: string, wait: (cancelled: AbortSignal) => Promise<T>): Promise<T>;
  info(message: string): void;
  error(message: string): void;
}

export type PurchaseEnd = 'paid' | 'failed' | 'expired' | 'cancelled' | 'not_offered' | 'not_started';

export interface PurchaseFlowOptions {
  /** How often the purchase is asked for while waiting (default 1 s). */
  pollMs?: number;
  /** The clock, for the session's expiry. */
  now?: () => number;
}

const WAITING = 'Waiting for the payment…';

export async function buyTeamCredits(gateway: GatewayRequests, ui: PurchaseUi, options: PurchaseFlowOptions = {}): Promise<PurchaseEnd> {
  const offer: PaymentOptions = await gateway.request(PaymentOptionsRequest);
  if (!offer.mayBuy) {
    ui.error(`Creditgate: ${offer.reason ?? 'This team gateway does not sell credits to this token.'}`);
    return 'not_offered';
  }
  if (offer.packs.length === 0) {
    ui.error("Creditgate: this team gateway's rate card offers no packs to buy. Ask your team's Creditgate admin.");
    return 'not_offered';
  }
  const pack = await ui.pickPack(offer.packs);
  if (!pack) return 'cancelled';
  let purchase: PurchaseView;
  try {
    purchase = await gateway.requestWith(StartPurchaseRequest, { pack: pack.id });
  } catch (error) {
    // The gateway's message says what failed and that nothing was charged.
    ui.error(`Creditgate: the purchase could not start. ${(error as Error).message}`);
    return 'not_started';
  }
  if (!purchase.checkoutUrl) {
    ui.error(`Creditgate: the gateway started purchase ${purchase.id} but gave no Checkout page to pay at.`);
    return 'not_started';
  }
  const opened = await ui.openExternal(purchase.checkoutUrl);
  if (!opened) ui.info(`Creditgate: open this page to pay: ${purchase.checkoutUrl}`);
  const end = await ui.withProgress(WAITING, (cancelled) => waitForPayment(gateway, purchase, cancelled, options));
  tell(ui, end, purchase);
  return end.state;
}

interface Ended {
  state: 'paid' | 'failed' | 'expired' | 'cancelled';
  purchase: PurchaseView;
}

async function waitForPayment(gateway: GatewayRequests, started: PurchaseView, cancelled: AbortSignal, options: PurchaseFlowOptions): Promise<Ended> {
  const now = options.now ?? Date.now;
  const expiresAt = started.expiresAt === null ? Number.POSITIVE_INFINITY : Date.parse(started.expiresAt);
  let purchase = started;
  for (;;) {
    if (cancelled.aborted) return { state: 'cancelled', purchase };
    if (now() >= expiresAt) return { state: 'expired', purchase };
    await sleep(options.pollMs ?? 1_000, cancelled);
    if (cancelled.aborted) return { state: 'cancelled', purchase };
    try {
      purchase = await gateway.requestWith(PurchaseRequest, { id: started.id });
    } catch {
      continue; // the gateway may be briefly away; the wait goes on
    }
    if (purchase.state === 'paid' || purchase.state === 'failed' || purchase.state === 'expired') return { state: purchase.state, purchase };
    if (purchase.state === 'error') return { state: 'failed', purchase };
  }
}

function tell(ui: PurchaseUi, end: Ended, started: PurchaseView): void {
  const { purchase } = end;
  const what = `${formatCredits(started.credits)} credits for ${started.price.toFixed(2)} ${started.currency.toUpperCase()}`;
  switch (end.state) {
    case 'paid':
      ui.info(`Creditgate: payment received, ${formatCredits(purchase.credits)} credits added to the team pool.${purchase.receiptUrl ? ` Receipt: ${purchase.receiptUrl}` : ''}`);
      return;
    case 'failed':
      ui.error(`Creditgate: the payment for ${what} failed. ${purchase.failure ?? 'No credits were added.'}`);
      return;
    case 'expired':
      ui.info(`Creditgate: the Checkout for ${what} expired unpaid. Nothing was charged.`);
      return;
    case 'cancelled':
      ui.info(`Creditgate: stopped waiting. If you complete the payment for ${what}, the credits still reach the pool and the status bar shows them.`);
  }
}

function sleep(ms: number, cancelled: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    cancelled.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      cancelled.removeEventListener('abort', done);
      resolve();
    }
  });
}
