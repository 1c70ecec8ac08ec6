/** Choose Plan…, Toggle Auto-Use of Credits and Reset Usage Windows. */
import * as vscode from 'vscode';
import { ListPlansRequest, ResetWindowsRequest, SetAutoUseCreditsRequest, SetPlanRequest, StatusRequest } from '../../shared/rpc';
import type { AccountConnection } from '../accountConnection';
import { formatCr } from '../../shared/format';
import { explicitAutoUseCredits, explicitPlan, updateSetting } from '../settings';

export async function choosePlan(gateway: AccountConnection): Promise<void> {
  const { current, plans } = await gateway.request(ListPlansRequest);
  const picked = await vscode.window.showQuickPick(
    plans.map((plan) => ({
      label: plan.name,
      description: plan.name === current ? 'current' : undefined,
      detail:
        plan.windows['5h'] > 0 || plan.windows.weekly > 0
          ? `5h: ${formatCr(plan.windows['5h'])} · weekly: ${formatCr(plan.windows.weekly)} · covers ${plan.features.join(', ')}`
          : 'No allowance: all usage runs on credits',
      name: plan.name,
    })),
    { title: 'Creditgate: Choose Plan', placeHolder: `Current plan: ${current}` },
  );
  if (!picked || picked.name === current) return;
  await gateway.changeWith(SetPlanRequest, { plan: picked.name });
  // A plan pinned in settings would be re-applied at the next start: keep it in step.
  if (explicitPlan() !== undefined) await updateSetting('plan', picked.name);
}

export async function toggleAutoUseCredits(gateway: AccountConnection): Promise<void> {
  const status = gateway.status ?? (await gateway.request(StatusRequest));
  const on = !status.autoUseCredits;
  await gateway.changeWith(SetAutoUseCreditsRequest, { on });
  if (explicitAutoUseCredits() !== undefined) await updateSetting('autoUseCredits', on);
  void vscode.window.showInformationMessage(
    on ? 'Creditgate: credits are used automatically once the plan allowance runs out.' : 'Creditgate: auto-use of credits is off; requests are refused once the plan allowance runs out.',
  );
}

export async function resetWindows(gateway: AccountConnection): Promise<void> {
  const confirmed = await vscode.window.showWarningMessage(
    'Reset the 5h and weekly usage windows? Their usage starts again from zero; credits are untouched. The reset is recorded in the audit trail.',
    { modal: true },
    'Reset Windows',
  );
  if (confirmed !== 'Reset Windows') return;
  await gateway.change(ResetWindowsRequest);
}
