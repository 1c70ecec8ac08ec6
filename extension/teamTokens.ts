/**
 * Member tokens for team gateways, kept in VS Code's SecretStorage (docs/product.md §8 "In the editor"):
 * one per gateway URL, so a token is only ever sent to the gateway it was given for. Never written to
 * settings or logs.
 */
import * as vscode from 'vscode';

const secretName = (server: string): string => `creditgate.teamToken:${server}`;

/** Tokens are opaque single words (`cg_…`); whitespace is a paste accident. */
export function checkToken(text: string): string | null {
  const token = text.trim();
  if (token.length === 0) return 'Enter the token.';
  if (/\s/.test(token)) return 'A token is one word, without spaces.';
  return null;
}

export class TeamTokens {
  constructor(private readonly secrets: vscode.SecretStorage) {}

  get(server: string): Promise<string | undefined> {
    return Promise.resolve(this.secrets.get(secretName(server)));
  }

  /** Asks for the token of `server` and stores it; undefined when the user cancels. */
  async prompt(server: string, reason: string): Promise<string | undefined> {
    const entered = await vscode.window.showInputBox({
      title: 'Creditgate: Team Gateway Token',
      prompt: `${reason} Enter your member token for ${server} (from \`creditgate seat add\`, or ask a team admin).`,
      placeHolder: 'cg_…',
      password: true,
      ignoreFocusOut: true,
      validateInput: checkToken,
    });
    if (entered === undefined) return undefined;
    const token = entered.trim();
    await this.secrets.store(secretName(server), token);
    return token;
  }
}
