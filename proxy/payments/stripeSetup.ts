/**
 * The team gateway's Stripe account, from its environment only: STRIPE_SECRET_KEY and
 * STRIPE_WEBHOOK_SECRET live in the process's memory, never in a file, a log line or the database.
 * The official `stripe` package talks to Stripe; CREDITGATE_STRIPE_API_URL points it elsewhere
 * (its host/port/protocol options), which is how the tests use a local fake of Stripe's API.
 */
import http from 'node:http';
import https from 'node:https';
import Stripe from 'stripe';

export interface StripeSetup {
  stripe: Stripe;
  webhookSecret: string;
  /** Removes the secrets from a message (Stripe's errors may quote what they were sent). */
  redact(message: string): string;
}

/** Why the gateway does not sell credits (both keys are needed; one alone is a mistake worth a warning). */
export type StripeAbsence = { kind: 'absent' } | { kind: 'incomplete'; missing: string };

export function stripeFromEnv(env: NodeJS.ProcessEnv): StripeSetup | StripeAbsence {
  const secretKey = env.STRIPE_SECRET_KEY?.trim() ?? '';
  const webhookSecret = env.STRIPE_WEBHOOK_SECRET?.trim() ?? '';
  if (secretKey === '' && webhookSecret === '') return { kind: 'absent' };
  if (secretKey === '') return { kind: 'incomplete', missing: 'STRIPE_SECRET_KEY' };
  if (webhookSecret === '') return { kind: 'incomplete', missing: 'STRIPE_WEBHOOK_SECRET' };
  const endpoint = apiEndpoint(env.CREDITGATE_STRIPE_API_URL);
  const stripe = new Stripe(secretKey, {
    ...endpoint,
    // No idle connection kept: a purchase is rare, and a kept socket would hold `creditgate credits buy` open.
    httpAgent: endpoint.protocol === 'http' ? new http.Agent({ keepAlive: false }) : new https.Agent({ keepAlive: false }),
    // A lost answer is retried with the same idempotency key, so Stripe makes one session of it; both
    // tries fit in the editor's 15 s wait for the gateway's answer (extension/team/teamHttp.ts).
    maxNetworkRetries: 1,
    timeout: 6_000,
    telemetry: false,
  });
  return {
    stripe,
    webhookSecret,
    redact: (message) => message.split(secretKey).join('[redacted]').split(webhookSecret).join('[redacted]'),
  };
}

function apiEndpoint(url: string | undefined): { host?: string; port?: number; protocol?: 'http' | 'https' } {
  if (url === undefined || url === '') return {};
  const parsed = new URL(url);
  const protocol = parsed.protocol === 'http:' ? 'http' : 'https';
  return { host: parsed.hostname, port: Number(parsed.port || (protocol === 'http' ? 80 : 443)), protocol };
}
