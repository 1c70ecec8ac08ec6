/**
 * The status a team gateway sends, checked where it enters the editor (shared/protocol.ts's Status):
 * the fields the status bar, tooltip and notifications read must be there and of the right type;
 * fields added later pass through.
 */
import type { Status } from '../../shared/protocol';
import * as z from '../../shared/zod';

const windowSchema = z.looseObject({
  name: z.enum(['5h', 'weekly']),
  limit: z.number(),
  used: z.number(),
  remaining: z.number(),
  usedPercent: z.number(),
  held: z.number(),
  resetsAt: z.nullable(z.string()),
  windowMinutes: z.number(),
});

const lastChargeSchema = z.looseObject({ id: z.number(), ts: z.string(), model: z.string(), client: z.string(), cost: z.number() });

const statusSchema = z.looseObject({
  plan: z.string(),
  state: z.enum(['plan', 'credits', 'blocked']),
  autoUseCredits: z.boolean(),
  windows: z.array(windowSchema),
  credits: z.looseObject({ balance: z.number(), held: z.number(), available: z.number() }),
  lastCharge: z.nullable(lastChargeSchema),
  burnRatePerHour: z.number(),
  planWarning: z.optional(z.string()),
  unpricedModels: z.optional(z.array(z.string())),
  seat: z.optional(z.string()),
  role: z.optional(z.enum(['member', 'admin'])),
  mayBuyCredits: z.optional(z.boolean()),
});

export class InvalidStatusError extends Error {}

export function parseStatus(value: unknown): Status {
  const parsed = statusSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidStatusError(`the gateway sent a status this editor cannot read (${issue?.path.join('.') || 'status'}: ${issue?.message ?? 'invalid'})`);
  }
  return parsed.data;
}
