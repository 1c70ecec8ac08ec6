/**
 * "Add Credits…". On the local gateway: a budget top-up, no money moving (said so): a quick pick of
 * the rate card's packs or a custom amount, a modal confirmation, then one grant with an idempotency
 * key minted per confirmed purchase (a retry of the same purchase reuses it, so it can never add
 * twice). The status bar updates from the returned status. Attached to a team gateway: a real
 * purchase through Stripe Checkout (team/teamPurchase.ts).
 */
import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import { AddCreditsRpc, RateCardRequest } from '../../shared/rpc';
import type { AccountConnection } from '../accountConnection';
import { formatCr } from '../../shared/format';
import { confirmationMessage, LOCAL_TOP_UP_NOTE, packChoices, parseCreditAmount, validateCreditAmount } from '../presentation/purchase';
import { buyTeamCredits, type PurchaseUi } from '../team/teamPurchase';

/** The team purchase's UI in the editor: a quick pick, the browser, a cancellable progress notification. */
const vscodePurchaseUi: PurchaseUi = {
  async pickPack(packs) {
    const items = packs.map((pack) => ({ label: pack.label, description: `${pack.price.toFixed(2)} ${pack.currency.toUpperCase()} · paid with Stripe`, pack }));
    const picked = await vscode.window.showQuickPick(items, { title: 'Creditgate: Buy Credits for the Team Pool', placeHolder: 'Choose a pack; you pay on Stripe\'s Checkout page' });
    return picked?.pack;
  },
  openExternal: (url) => Promise.resolve(vscode.env.openExternal(vscode.Uri.parse(url))),
  withProgress: (title, wait) =>
    Promise.resolve(
      vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Creditgate: ${title}`, cancellable: true }, (_progress, token) => {
        const cancelled = new AbortController();
        token.onCancellationRequested(() => cancelled.abort());
        return wait(cancelled.signal);
      }),
    ),
  info: (message) => void vscode.window.showInformationMessage(message),
  error: (message) => void vscode.window.showErrorMessage(message),
};

interface AmountItem extends vscode.QuickPickItem {
  credits: number | null;
  usd: number | null;
}

async function chooseAmount(gateway: AccountConnection): Promise<{ credits: number; usd: number | null } | undefined> {
  const card = await gateway.request(RateCardRequest);
  const items: AmountItem[] = [
    ...packChoices(card.packs, card.creditUsd).map((pack) => ({ label: pack.label, description: pack.description, credits: pack.credits, usd: pack.usd })),
    { label: 'Custom amount…', description: `list price ${card.creditUsd} USD per credit`, credits: null, usd: null },
  ];
  const picked = await vscode.window.showQuickPick(items, {
    title: 'Creditgate: Add Credits (budget top-up, no money moves)',
    placeHolder: 'Choose a pack or a custom amount',
  });
  if (!picked) return undefined;
  if (picked.credits !== null) return { credits: picked.credits, usd: picked.usd };
  const text = await vscode.window.showInputBox({
    title: 'Creditgate: Add Credits',
    prompt: 'Number of credits (at most 6 decimals)',
    placeHolder: '250',
    validateInput: validateCreditAmount,
  });
  if (text === undefined) return undefined;
  const credits = parseCreditAmount(text);
  return { credits, usd: Math.round(credits * card.creditUsd * 100) / 100 };
}

export async function addCredits(gateway: AccountConnection, log: vscode.LogOutputChannel): Promise<void> {
  if (gateway.server !== null) {
    const end = await buyTeamCredits(gateway, vscodePurchaseUi);
    log.info(`team purchase: ${end}`);
    return;
  }
  const amount = await chooseAmount(gateway);
  if (!amount) return;
  const confirmed = await vscode.window.showInformationMessage(confirmationMessage(amount.credits, amount.usd), { modal: true, detail: LOCAL_TOP_UP_NOTE }, 'Add Credits');
  if (confirmed !== 'Add Credits') return;
  const idempotencyKey = `vscode:${randomUUID()}`;
  for (;;) {
    try {
      const status = await gateway.changeWith(AddCreditsRpc, { amount: amount.credits, idempotencyKey, source: 'purchase' });
      log.info(`added ${amount.credits} credits (${idempotencyKey})`);
      void vscode.window.showInformationMessage(`Creditgate: added ${formatCr(amount.credits)}. Balance: ${formatCr(status.credits.balance)}.`);
      return;
    } catch (error) {
      const retry = await vscode.window.showErrorMessage(`Creditgate: the purchase did not go through: ${(error as Error).message}`, 'Retry');
      // Same key: if the first attempt did land, the retry adds nothing.
      if (retry !== 'Retry') return;
    }
  }
}
