/**
 * "Connect a Client…": the base URL, the token and ready-to-paste configuration for Codex CLI, the
 * OpenAI and Anthropic SDKs and Claude Code, as one Markdown document. Pure.
 */

export interface ConnectionDetails {
  /** The gateway's origin, e.g. http://127.0.0.1:8788. */
  url: string;
  clientName: string;
  token: string;
}

export function clientSnippets({ url, clientName, token }: ConnectionDetails): string {
  const openAiBase = `${url}/v1`;
  return `# Connect a client to Creditgate

Base URL: \`${url}\` (OpenAI-compatible routes under \`${openAiBase}\`)

Token for client **${clientName}** (shown once; issuing another for this name revokes it):

\`\`\`text
${token}
\`\`\`

## Codex CLI — \`~/.codex/config.toml\`

\`\`\`toml
model_provider = "creditgate"

[model_providers.creditgate]
name = "Creditgate"
base_url = "${openAiBase}"
env_key = "CREDITGATE_TOKEN"
wire_api = "responses"
\`\`\`

\`\`\`sh
export CREDITGATE_TOKEN=${token}
\`\`\`

## OpenAI SDKs and tools

\`\`\`sh
export OPENAI_BASE_URL=${openAiBase}
export OPENAI_API_KEY=${token}
\`\`\`

## Anthropic SDKs and Claude Code

\`\`\`sh
export ANTHROPIC_BASE_URL=${url}
export ANTHROPIC_API_KEY=${token}
\`\`\`

The gateway swaps this token for the real upstream key (set it with **Creditgate: Set Upstream API Key…**
or in the editor's environment), and attributes usage to **${clientName}**.
`;
}

/** Client names become usage attribution; keep them short and plain. */
export function validateClientName(name: string): string | null {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name.trim()) ? null : 'Use letters, digits, ".", "_" or "-" (at most 64).';
}
