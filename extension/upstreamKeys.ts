/**
 * Upstream API keys live in VS Code's SecretStorage and are handed to the gateway process in memory
 * each time it starts (docs/product.md §2): never written to disk by Creditgate, never logged. A key in the
 * editor's environment (OPENAI_API_KEY, ANTHROPIC_API_KEY) needs no prompt: the gateway already has it.
 */
import * as vscode from 'vscode';
import type { UpstreamName } from '../shared/rpc';
import { SetUpstreamKeyRequest } from '../shared/rpc';
import type { GatewayClient } from './gatewayClient';

const UPSTREAMS: readonly { name: UpstreamName; label: string; envVar: string }[] = [
  { name: 'openai', label: 'OpenAI', envVar: 'OPENAI_API_KEY' },
  { name: 'anthropic', label: 'Anthropic', envVar: 'ANTHROPIC_API_KEY' },
];

const secretName = (upstream: UpstreamName): string => `creditgate.upstreamKey.${upstream}`;

export class UpstreamKeys {
  constructor(
    private readonly secrets: vscode.SecretStorage,
    private readonly gateway: GatewayClient,
    private readonly log: vscode.LogOutputChannel,
  ) {
    gateway.onUpstreamKeyRejected((upstream) => void this.offerReplacement(upstream));
  }

  /** The upstream refused the key: requests fail until it is replaced, so say so and offer the fix. */
  private async offerReplacement(upstream: UpstreamName): Promise<void> {
    const { label, envVar } = UPSTREAMS.find((u) => u.name === upstream)!;
    const stored = await this.secrets.get(secretName(upstream));
    const source = stored ? 'the key stored in VS Code' : process.env[envVar] ? `${envVar} from the environment` : 'no key at all';
    const choice = await vscode.window.showErrorMessage(
      `${label} rejected the upstream API key Creditgate sent (${source}). Requests to ${label} fail until it is replaced; your Creditgate tokens are fine.`,
      'Set Upstream API Key…',
    );
    if (choice) await this.prompt();
  }

  /** Hands every stored key to a freshly started gateway process. */
  async handOver(): Promise<void> {
    for (const { name } of UPSTREAMS) {
      const key = await this.secrets.get(secretName(name));
      if (!key) continue;
      try {
        await this.gateway.requestWith(SetUpstreamKeyRequest, { upstream: name, key });
      } catch (error) {
        this.log.warn(`could not hand over the ${name} key: ${(error as Error).message}`);
      }
    }
  }

  /** The "Set Upstream API Key…" command. */
  async prompt(): Promise<void> {
    const picked = await vscode.window.showQuickPick(
      UPSTREAMS.map((u) => ({
        label: u.label,
        description: process.env[u.envVar] ? `${u.envVar} is set in the environment; a key stored here takes precedence` : undefined,
        upstream: u,
      })),
      { title: 'Creditgate: Set Upstream API Key', placeHolder: 'Which upstream is the key for?' },
    );
    if (!picked) return;
    const { name, label } = picked.upstream;
    const stored = await this.secrets.get(secretName(name));
    const key = await vscode.window.showInputBox({
      title: `${label} API key`,
      prompt: stored ? 'A key is stored. Enter a new one, or leave empty to remove it.' : `Stored in the editor's secret storage and given to the gateway in memory only.`,
      password: true,
      ignoreFocusOut: true,
      validateInput: (value) => (/\s/.test(value.trim()) ? 'A key has no spaces.' : null),
    });
    if (key === undefined) return;
    const trimmed = key.trim();
    if (trimmed) await this.secrets.store(secretName(name), trimmed);
    else await this.secrets.delete(secretName(name));
    try {
      await this.gateway.requestWith(SetUpstreamKeyRequest, { upstream: name, key: trimmed || null });
      void vscode.window.showInformationMessage(trimmed ? `Creditgate: the ${label} key is set.` : `Creditgate: the ${label} key is removed.`);
    } catch (error) {
      void vscode.window.showWarningMessage(`Creditgate: the ${label} key is stored and will be used when the gateway runs again (${(error as Error).message}).`);
    }
  }

  /** Asks for a key once, when no upstream has one from storage or the environment. */
  async suggestIfMissing(state: vscode.Memento): Promise<void> {
    if (UPSTREAMS.some((u) => process.env[u.envVar])) return;
    if (state.get<boolean>('creditgate.keyPromptDismissed')) return;
    for (const { name } of UPSTREAMS) if (await this.secrets.get(secretName(name))) return;
    const choice = await vscode.window.showInformationMessage(
      'Creditgate has no upstream API key yet; requests will reach the upstream without one.',
      'Set API Key…',
      "Don't Ask Again",
    );
    if (choice === 'Set API Key…') await this.prompt();
    if (choice === "Don't Ask Again") await state.update('creditgate.keyPromptDismissed', true);
  }
}
