/**
 * Shows the alerts that presentation/alerts.ts plans (thresholds, the switch to credits, blocked) and
 * the notice for a model the rate card does not list (presentation/unpricedModels.ts). What was
 * shown is kept in globalState so reloading a window does not repeat it.
 */
import * as vscode from 'vscode';
import type { Status } from '../shared/protocol';
import type { AlertAction, FiredKeys } from './presentation/alerts';
import { actionsFor, AlertPlanner, alertMessage } from './presentation/alerts';
import { UnpricedModelNotices, unpricedModelMessage } from './presentation/unpricedModels';

const FIRED_KEY = 'creditgate.firedAlerts';
const TOLD_UNPRICED_KEY = 'creditgate.toldUnpricedModels';

const COMMAND_FOR: Record<AlertAction, string> = {
  'Add credits': 'creditgate.addCredits',
  'View usage': 'creditgate.showUsage',
  'Turn on auto-use': 'creditgate.toggleAutoUseCredits',
};

export class Notifications {
  private readonly planner: AlertPlanner;
  private readonly unpriced: UnpricedModelNotices;

  constructor(
    private readonly state: vscode.Memento,
    thresholds: readonly number[],
  ) {
    this.planner = new AlertPlanner(thresholds, state.get<FiredKeys>(FIRED_KEY, {}));
    this.unpriced = new UnpricedModelNotices(state.get<unknown[]>(TOLD_UNPRICED_KEY, []));
  }

  setThresholds(thresholds: readonly number[]): void {
    this.planner.setThresholds(thresholds);
  }

  observe(status: Status): void {
    const now = Date.now();
    const alerts = this.planner.observe(status, now);
    if (alerts.length > 0) {
      void this.state.update(FIRED_KEY, this.planner.firedKeys());
      for (const alert of alerts) void this.show(alertMessage(alert, now, { locale: vscode.env.language }), status);
    }
    const unpriced = this.unpriced.observe(status);
    if (unpriced.length > 0) {
      void this.state.update(TOLD_UNPRICED_KEY, this.unpriced.told());
      for (const model of unpriced) void this.showUnpriced(model);
    }
  }

  private async showUnpriced(model: string): Promise<void> {
    const message = unpricedModelMessage(model);
    const choice = await vscode.window.showWarningMessage(message.text, ...message.actions);
    if (choice) await vscode.commands.executeCommand('workbench.action.openSettings', 'creditgate.rateCardFile');
  }

  private async show(message: ReturnType<typeof alertMessage>, status: Status): Promise<void> {
    const show =
      message.severity === 'error' ? vscode.window.showErrorMessage : message.severity === 'warning' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    const actions = actionsFor(message.actions, status);
    const choice = await show(message.text, ...actions);
    if (choice) await vscode.commands.executeCommand(COMMAND_FOR[choice]);
  }
}
