/**
 * "Add Credits…": a quick pick of the rate card's packs or a custom amount, a modal confirmation,
 * then one purchase with an idempotency key minted per confirmed purchase (a retry of the same
 * purchase reuses it, so it can never add twice). The status bar updates from the returned status.
 */
import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import { AddCreditsRpc, RateCardRequest } from '../../shared/rpc';
import type { AccountConnection } from '../accountConnection';
import { formatCr } from '../../shared/format';
import { confirmationMessage, packChoices, parseCreditAmount, validateCreditAmount } from '../presentation/purchase';

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
  const picked = await vscode.window.showQuickPick(items, { title: 'Creditgate: Add Credits', placeHolder: 'Choose a pack or a custom amount' });
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
  const amount = await chooseAmount(gateway);
  if (!amount) return;
  const confirmed = await vscode.window.showInformationMessage(confirmationMessage(amount.credits, amount.usd), { modal: true }, 'Add Credits');
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
