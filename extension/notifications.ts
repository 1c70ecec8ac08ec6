/**
 * Shows the alerts that presentation/alerts.ts plans: thresholds, the switch to credits, blocked.
 * The fired keys are kept in globalState so reloading a window does not repeat them.
 */
import * as vscode from 'vscode';
import type { Status } from '../shared/protocol';
import type { AlertAction, FiredKeys } from './presentation/alerts';
import { AlertPlanner, alertMessage } from './presentation/alerts';

const FIRED_KEY = 'creditgate.firedAlerts';

const COMMAND_FOR: Record<AlertAction, string> = {
  'Add credits': 'creditgate.addCredits',
  'View usage': 'creditgate.showUsage',
  'Turn on auto-use': 'creditgate.toggleAutoUseCredits',
};

export class Notifications {
  private readonly planner: AlertPlanner;

  constructor(
    private readonly state: vscode.Memento,
    thresholds: readonly number[],
  ) {
    this.planner = new AlertPlanner(thresholds, state.get<FiredKeys>(FIRED_KEY, {}));
  }

  setThresholds(thresholds: readonly number[]): void {
    this.planner.setThresholds(thresholds);
  }

  observe(status: Status): void {
    const now = Date.now();
    const alerts = this.planner.observe(status, now);
    if (alerts.length === 0) return;
    void this.state.update(FIRED_KEY, this.planner.firedKeys());
    for (const alert of alerts) void this.show(alertMessage(alert, now, { locale: vscode.env.language }));
  }

  private async show(message: ReturnType<typeof alertMessage>): Promise<void> {
    const show =
      message.severity === 'error' ? vscode.window.showErrorMessage : message.severity === 'warning' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    const choice = await show(message.text, ...message.actions);
    if (choice) await vscode.commands.executeCommand(COMMAND_FOR[choice]);
  }
}
