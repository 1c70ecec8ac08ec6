/** The gateway's own error bodies in each vendor's shape, including the blocked (429) contract. */
import type { ErrorParam, GatewayErrorKind, UsageLimitDetails } from './types';

export interface ErrorDetailsForShape {
  param?: string | null;
  usageLimit?: UsageLimitDetails;
}

const OPENAI_ERROR_TYPES: Record<GatewayErrorKind, { type: string; code: string | null }> = {
  invalid_request: { type: 'invalid_request_error', code: null },
  authentication: { type: 'invalid_request_error', code: 'invalid_api_key' },
  permission: { type: 'invalid_request_error', code: 'forbidden' },
  not_found: { type: 'invalid_request_error', code: 'not_found' },
  request_timeout: { type: 'invalid_request_error', code: 'request_timeout' },
  conflict: { type: 'invalid_request_error', code: 'conflict' },
  too_large: { type: 'invalid_request_error', code: 'request_too_large' },
  not_metered: { type: 'invalid_request_error', code: 'route_not_metered' },
  usage_limit: { type: 'usage_limit_reached', code: 'usage_limit_reached' },
  upstream_key_rejected: { type: 'invalid_request_error', code: 'upstream_key_rejected' },
  upstream_unavailable: { type: 'server_error', code: 'upstream_unavailable' },
  upstream_timeout: { type: 'server_error', code: 'upstream_timeout' },
  ledger_busy: { type: 'server_error', code: 'ledger_busy' },
  ledger_unavailable: { type: 'server_error', code: 'ledger_unavailable' },
  gateway_stopping: { type: 'server_error', code: 'gateway_stopping' },
  too_many_connections: { type: 'server_error', code: 'too_many_connections' },
  ledger_full: { type: 'server_error', code: 'ledger_full' },
  internal: { type: 'server_error', code: null },
};

/**
 * Plan names Codex CLI knows as ChatGPT plans: for these it appends an upsell ("Upgrade to Pro …",
 * "Upgrade to Plus") to its usage-limit message, which sends our users to a purchase that does not
 * help them. Any other plan_type gets the plain "You've hit your usage limit … try again at …".
 */
const CODEX_KNOWN_PLANS = new Set(['free', 'go', 'plus', 'pro', 'team', 'business', 'enterprise', 'edu', 'education']);

/**
 * The blocked body's plan_type for Codex: the plan's own name, prefixed when Codex would read it as a
 * ChatGPT plan. Every other client gets the plan's name as it is.
 */
export function codexPlanType(plan: string): string {
  return CODEX_KNOWN_PLANS.has(plan.toLowerCase()) ? `creditgate-${plan}` : plan;
}

/** `{"error":{message,type,param,code}}`; blocked is the contract body Codex CLI understands. */
export function openAiErrorBody(kind: GatewayErrorKind, message: string, details: ErrorDetailsForShape = {}): unknown {
  const { usageLimit } = details;
  if (kind === 'usage_limit') {
    // Exactly docs/product.md §2's blocked body: Codex reads type, plan_type and resets_at ("try again at HH:MM").
    return {
      error: {
        type: 'usage_limit_reached',
        code: 'usage_limit_reached',
        message: message || usageLimitMessage(usageLimit),
        plan_type: usageLimit ? (usageLimit.codexClient ? codexPlanType(usageLimit.planType) : usageLimit.planType) : null,
        resets_at: usageLimit?.resetsAt ?? null,
        state: 'blocked',
      },
    };
  }
  const { type, code } = OPENAI_ERROR_TYPES[kind];
  return { error: { message, type, param: details.param ?? null, code } };
}

const ANTHROPIC_ERROR_TYPES: Record<GatewayErrorKind, string> = {
  invalid_request: 'invalid_request_error',
  authentication: 'authentication_error',
  permission: 'permission_error',
  not_found: 'not_found_error',
  request_timeout: 'invalid_request_error',
  conflict: 'invalid_request_error',
  too_large: 'request_too_large',
  not_metered: 'permission_error',
  usage_limit: 'rate_limit_error',
  upstream_key_rejected: 'permission_error',
  upstream_unavailable: 'api_error',
  upstream_timeout: 'api_error',
  // Anthropic's "try again shortly" type, which its SDKs and Claude Code retry.
  ledger_busy: 'overloaded_error',
  ledger_unavailable: 'overloaded_error',
  gateway_stopping: 'api_error',
  too_many_connections: 'overloaded_error',
  ledger_full: 'api_error',
  internal: 'api_error',
};

/** `{"type":"error","error":{type,message}}`; blocked is a rate_limit_error (Claude Code prints the message). */
export function anthropicErrorBody(kind: GatewayErrorKind, message: string, details: ErrorDetailsForShape = {}): unknown {
  const text = kind === 'usage_limit' ? message || usageLimitMessage(details.usageLimit) : message;
  return { type: 'error', error: { type: ANTHROPIC_ERROR_TYPES[kind], message: text } };
}

/**
 * The standard blocked wording: what ran out, when it comes back, and how to continue now. `resetsAt`
 * is shown in UTC ISO form, since the gateway cannot know the reader's time zone (Codex CLI formats
 * `resets_at` locally on its own).
 */
export function usageLimitMessage(details: UsageLimitDetails | undefined): string {
  const plan = details?.planType ? `your ${details.planType} plan's` : "your plan's";
  const resets =
    details?.resetsAt != null
      ? ` The allowance resets at ${new Date(details.resetsAt * 1000).toISOString().replace('.000Z', 'Z')}.`
      : ' No plan window will reset it.';
  return (
    `Usage limit reached: ${plan} allowance is used up and there are no credits left to continue on.${resets}` +
    ' Add credits to keep going now: run "Creditgate: Add Credits…" in VS Code or `creditgate credits add <amount>`.'
  );
}

/** The contract's errorBody details, sorted into what each shape needs. */
export function shapeDetails(details: UsageLimitDetails | ErrorParam | undefined): ErrorDetailsForShape {
  if (details === undefined) return {};
  return 'planType' in details ? { usageLimit: details } : { param: details.param };
}
