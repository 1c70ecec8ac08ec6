/** Registers the Creditgate commands (package.json `contributes.commands`, category Creditgate). */
import * as vscode from 'vscode';
import type { AccountConnection } from '../accountConnection';
import type { UpstreamKeys } from '../upstreamKeys';
import { choosePlan, resetWindows, toggleAutoUseCredits } from './accountCommands';
import { addCredits } from './addCredits';
import { connectClient } from './connectClient';
import type { UsageView } from './showUsage';

export interface CommandDependencies {
  gateway: AccountConnection;
  keys: UpstreamKeys;
  usage: UsageView;
  log: vscode.LogOutputChannel;
  /** Asks for the member token of the team gateway in use (or says to set `creditgate.server` first). */
  setTeamToken: () => Promise<void>;
}

export function registerCommands({ gateway, keys, usage, log, setTeamToken }: CommandDependencies): vscode.Disposable[] {
  const commands: Record<string, () => Promise<void> | void> = {
    'creditgate.addCredits': () => addCredits(gateway, log),
    'creditgate.showUsage': () => usage.show(),
    'creditgate.connectClient': () => connectClient(gateway),
    'creditgate.setUpstreamKey': () => keys.prompt(),
    'creditgate.choosePlan': () => choosePlan(gateway),
    'creditgate.toggleAutoUseCredits': () => toggleAutoUseCredits(gateway),
    'creditgate.resetWindows': () => resetWindows(gateway),
    'creditgate.restartGateway': () => gateway.restart(),
    'creditgate.setTeamToken': setTeamToken,
    'creditgate.showLogs': () => log.show(),
  };
  return Object.entries(commands).map(([id, run]) =>
    vscode.commands.registerCommand(id, async () => {
      try {
        await run();
      } catch (error) {
        const message = (error as Error).message;
        log.error(`${id}: ${message}`);
        void vscode.window.showErrorMessage(`Creditgate: ${message}`);
      }
    }),
  );
}
