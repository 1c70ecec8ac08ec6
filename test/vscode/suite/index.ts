/**
 * The in-editor suite: runs inside the extension host (`extensionTestsPath`), mocha-free — VS Code
 * calls `run()` and a rejection fails the run. It drives the same flow as the code-server test
 * through the VS Code API: the extension's exported API (extension/extension.ts CreditgateApi) for
 * the status and a client token, real HTTP requests through the gateway, and the Add Credits command
 * run with `vscode.commands.executeCommand`, its quick pick and modal answered by stand-ins for
 * `vscode.window` functions (this module is inside the extension's folder, so it shares the
 * extension's `vscode` API object). Launched by test/vscode/run-electron.ts (desktop VS Code,
 * `VSCODE_EXECUTABLE`) or, with `--code-server`, in code-server.
 * The gateway's upstream comes from the environment (CREDITGATE_OPENAI_BASE_URL → the fake upstream).
 */
import * as vscode from 'vscode';
import type { CreditgateApi } from '../../../extension/extension';
import { statusText } from '../../../extension/presentation/statusBarModel';
import type { Status } from '../../../shared/protocol';

const log = (line: string): void => console.log(`[in-editor suite] ${line}`);

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

async function waitFor<T>(what: string, probe: () => T | undefined | null | false, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Shown {
  kind: 'error' | 'warning' | 'info';
  text: string;
  items: string[];
  modal: boolean;
}

type MessageFn = (message: string, ...rest: unknown[]) => Thenable<unknown>;

/**
 * Records every message the extension shows and answers the purchase's quick pick and modal;
 * other messages go on to the real UI.
 */
function standIns(): { shown: Shown[]; pickLabel: (label: string | null) => void; restore: () => void } {
  const window = vscode.window as unknown as Record<string, unknown>;
  const originals = {
    showErrorMessage: window.showErrorMessage as MessageFn,
    showWarningMessage: window.showWarningMessage as MessageFn,
    showInformationMessage: window.showInformationMessage as MessageFn,
    showQuickPick: window.showQuickPick as (...args: unknown[]) => Thenable<unknown>,
  };
  const shown: Shown[] = [];
  let pick: string | null = null;
  const message =
    (kind: Shown['kind'], original: MessageFn): MessageFn =>
    (text, ...rest) => {
      const options = typeof rest[0] === 'object' && rest[0] !== null && !('title' in rest[0]) ? (rest[0] as vscode.MessageOptions) : undefined;
      const items = rest.filter((item): item is string => typeof item === 'string');
      shown.push({ kind, text, items, modal: options?.modal === true });
      // The purchase's confirmation: answer it as the user would.
      if (options?.modal && items.includes('Add Credits')) return Promise.resolve('Add Credits');
      return original.call(vscode.window, text, ...rest);
    };
  window.showErrorMessage = message('error', originals.showErrorMessage);
  window.showWarningMessage = message('warning', originals.showWarningMessage);
  window.showInformationMessage = message('info', originals.showInformationMessage);
  window.showQuickPick = async (items: unknown, ...rest: unknown[]) => {
    const list = (await items) as vscode.QuickPickItem[];
    const wanted = pick;
    if (wanted === null) return originals.showQuickPick.call(vscode.window, list, ...rest);
    const found = list.find((item) => item.label === wanted);
    check(found !== undefined, `no "${wanted}" among ${list.map((item) => item.label).join(', ')}`);
    return found;
  };
  check(window.showQuickPick !== originals.showQuickPick, 'vscode.window cannot be patched here: the stand-ins would not be used');
  return {
    shown,
    pickLabel: (label) => (pick = label),
    restore: () => Object.assign(window, originals),
  };
}

async function chat(url: string, token: string, inputTokens: number): Promise<{ status: number; state: string | null }> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-fake-usage': JSON.stringify({ input_tokens: inputTokens, output_tokens: 5 }) },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello.' }] }),
  });
  await res.arrayBuffer();
  return { status: res.status, state: res.headers.get('x-creditgate-state') };
}

export async function run(): Promise<void> {
  const extension = vscode.extensions.getExtension<CreditgateApi>('creditgate.creditgate');
  check(extension !== undefined, 'the Creditgate extension is not installed in this editor');
  const api = extension.isActive ? extension.exports : await extension.activate();
  const ui = standIns();
  try {
    // a. Activated; the status bar shows the allowance and the balance.
    const first = await waitFor('the first status', () => api.status(), 60_000);
    const info = await waitFor('the gateway info', () => api.info(), 10_000);
    check(info.role === 'owner', `this window should serve the gateway, it is ${info.role}`);
    check(first.plan === 'tiny', `plan ${first.plan}: CREDITGATE_CONFIG did not reach the gateway`);
    check(api.statusBarText() === '100% left (5h) · 0 cr', `status bar: ${api.statusBarText()}`);
    log(`a. ${api.statusBarText()} (gateway ${info.url})`);
    const token = await api.issueToken('in-editor-suite');

    // b. A client's request moves the status bar, by push.
    const sameAsGateway = (status: Status | null): boolean => status !== null && api.statusBarText() === statusText(status);
    const moved = await chat(info.url, token, 10_000);
    check(moved.status === 200 && moved.state === 'plan', `first request: ${moved.status} ${moved.state}`);
    await waitFor('the status bar to move', () => api.status()?.windows.some((w) => w.used > 0) && sameAsGateway(api.status()), 2_000);
    check(/^\d+% left \(5h\) · 0 cr$/.test(api.statusBarText()) && !api.statusBarText().startsWith('100%'), `after a request: ${api.statusBarText()}`);
    log(`b. ${api.statusBarText()}`);

    // c. Tripping the plan with no credits: "Add credits", one error with its two buttons per trip.
    check((await chat(info.url, token, 100_000)).status === 200, 'the tripping request failed');
    await waitFor('the blocked state', () => api.status()?.state === 'blocked', 2_000);
    check(api.statusBarText() === 'Add credits', `blocked status bar: ${api.statusBarText()}`);
    const blockedErrors = (): Shown[] => ui.shown.filter((s) => s.kind === 'error' && s.text.includes('requests are blocked'));
    await waitFor('the blocked notification', () => blockedErrors().length > 0, 2_000);
    for (let i = 0; i < 2; i++) {
      const refused = await chat(info.url, token, 10);
      check(refused.status === 429 && refused.state === 'blocked', `blocked request: ${refused.status} ${refused.state}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // an absence is watched for a while
    check(blockedErrors().length === 1, `${blockedErrors().length} blocked notifications for one trip`);
    check(['Add credits', 'View usage'].every((b) => blockedErrors()[0]!.items.includes(b)), `buttons: ${blockedErrors()[0]!.items.join(', ')}`);
    log('c. blocked, one notification');

    // d. Add Credits: the command, a pack, the confirmation; the status shows the balance at once.
    ui.pickLabel('100 credits');
    const clicked = Date.now();
    await vscode.commands.executeCommand('creditgate.addCredits');
    ui.pickLabel(null);
    check(ui.shown.some((s) => s.modal && s.text.includes('Add 100 credits')), 'no confirmation was asked');
    await waitFor('the new balance', () => api.statusBarText() === 'On credits · 100 cr', 1_000);
    log(`d. ${api.statusBarText()} ${Date.now() - clicked} ms after the command`);
    const admitted = await chat(info.url, token, 20_000);
    check(admitted.status === 200 && admitted.state === 'credits', `after the purchase: ${admitted.status} ${admitted.state}`);
    await waitFor('the charge on credits', () => (api.status()?.credits.balance ?? 100) < 100 && sameAsGateway(api.status()), 2_000);
    log(`d. admitted on credits; ${api.statusBarText()}`);
  } finally {
    ui.restore();
  }
}
