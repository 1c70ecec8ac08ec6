/** "Connect a Client…": issues a fresh token for a named client and shows ready-made settings. */
import * as vscode from 'vscode';
import { InfoRequest, IssueTokenRequest } from '../../shared/rpc';
import type { AccountConnection } from '../accountConnection';
import { clientSnippets, validateClientName } from '../presentation/clientSnippets';

export async function connectClient(gateway: AccountConnection): Promise<void> {
  const name = await vscode.window.showInputBox({
    title: 'Creditgate: Connect a Client',
    prompt: 'Client name (usage is attributed to it; a new token revokes its previous one)',
    value: 'codex',
    validateInput: validateClientName,
  });
  if (name === undefined) return;
  const [info, issued] = [await gateway.request(InfoRequest), await gateway.requestWith(IssueTokenRequest, { name: name.trim() })];
  const document = await vscode.workspace.openTextDocument({
    language: 'markdown',
    content: clientSnippets({ url: info.url, clientName: issued.name, token: issued.token }),
  });
  await vscode.window.showTextDocument(document, { preview: false });
  const copy = await vscode.window.showInformationMessage(`Creditgate: a token for "${issued.name}" is ready.`, 'Copy Token', 'Copy Base URL');
  if (copy === 'Copy Token') await vscode.env.clipboard.writeText(issued.token);
  if (copy === 'Copy Base URL') await vscode.env.clipboard.writeText(`${info.url}/v1`);
}
