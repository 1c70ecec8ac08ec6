/**
 * What the gateway does to a request that runs on the last of an allowance or of the credits, in each
 * API's own terms: the output limit it forwards (so the upstream stops where the account's money
 * ends), and the events that end a stream cleanly when the gateway has to stop it itself (an upstream
 * that ignored the limit). Clients see the same thing as when a model hits its own output limit.
 */
/**
 * With no limit of the client's own, on a model whose maximum output the rate card does not know, a
 * cap above this is not forwarded: the vendors refuse a limit above a model's maximum, and every
 * current chat model allows at least this many output tokens. A non-streaming request that this leaves
 * uncapped goes upstream as a stream instead, which the gateway ends at the bound (meteredExchange.ts).
 */
export const UNREQUESTED_CAP_CEILING = 16_384;

/** The field each dialect's upstream reads as the output limit (Chat's legacy spelling is kept when sent). */
function limitField(dialect: string, body: Record<string, unknown>): string | null {
  switch (dialect) {
    case 'responses':
      return 'max_output_tokens';
    case 'chat':
      return body.max_completion_tokens === undefined && body.max_tokens !== undefined ? 'max_tokens' : 'max_completion_tokens';
    case 'messages':
    case 'completions':
      return 'max_tokens';
    default:
      return null;
  }
}

/**
 * The body with its output limit lowered to `cap` (or set, when absent and the model accepts the cap:
 * below its maximum output when the rate card knows it, else up to UNREQUESTED_CAP_CEILING); null when
 * nothing changes. The caller's body is not modified.
 */
export function withOutputCap(dialect: string, body: Record<string, unknown>, cap: number, modelMaxOutput: number | null = null): Record<string, unknown> | null {
  const field = limitField(dialect, body);
  if (field === null) return null;
  const current = body[field];
  const requested = typeof current === 'number' ? current : null;
  if (requested !== null && requested <= cap) return null;
  if (requested === null && cap > Math.max(UNREQUESTED_CAP_CEILING, modelMaxOutput ?? 0)) return null;
  return { ...body, [field]: cap };
}

const sse = (event: string | null, data: unknown): string =>
  `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

/**
 * The events that end a stream stopped at the spending limit: the dialect's own "output limit
 * reached" ending, so clients finish the turn normally and show it as cut short. Empty for dialects
 * without one (the stream then just ends).
 */
export function spendLimitEnding(dialect: string, requestId: string, model: string): Buffer {
  const now = Math.floor(Date.now() / 1000);
  switch (dialect) {
    case 'responses':
      return Buffer.from(
        sse('response.incomplete', {
          type: 'response.incomplete',
          response: {
            id: `resp_creditgate_${requestId}`,
            object: 'response',
            created_at: now,
            status: 'incomplete',
            model,
            incomplete_details: { reason: 'max_output_tokens' },
            output: [],
            usage: null,
          },
        }),
      );
    case 'chat':
      return Buffer.from(
        sse(null, {
          id: `chatcmpl-creditgate-${requestId}`,
          object: 'chat.completion.chunk',
          created: now,
          model,
          choices: [{ index: 0, delta: {}, finish_reason: 'length' }],
        }) + sse(null, '[DONE]'),
      );
    case 'completions':
      return Buffer.from(
        sse(null, { id: `cmpl-creditgate-${requestId}`, object: 'text_completion', created: now, model, choices: [{ index: 0, text: '', finish_reason: 'length' }] }) +
          sse(null, '[DONE]'),
      );
    case 'messages':
      return Buffer.from(
        sse('message_delta', { type: 'message_delta', delta: { stop_reason: 'max_tokens', stop_sequence: null }, usage: { output_tokens: 0 } }) +
          sse('message_stop', { type: 'message_stop' }),
      );
    default:
      return Buffer.alloc(0);
  }
}

