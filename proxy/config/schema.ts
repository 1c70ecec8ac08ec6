/**
 * The config file's shape (SPEC §4), strict at every level so a typo is an error, not a silent
 * default. Money here is in credits, as users write it; the loader converts to micro-credits.
 */
import { z } from 'zod';
import { creditsToMicro } from '../../shared/money';
import { rateCardSchema } from '../../shared/rateCard';
import { MAX_TIMEOUT_MS } from './defaults';
import { MAX_PORT, parseBaseUrl } from './values';

const credits = z
  .number()
  .nonnegative()
  .refine((value) => creditsToMicro(value) !== null, 'expected credits with at most 6 decimals');

const planSchema = z.strictObject({
  windows: z.strictObject({ '5h': credits, weekly: credits }),
  features: z.array(z.string().min(1)).default(['assistant']),
  seats: z.number().int().positive().optional(),
});

const baseUrlSchema = z.string().transform((text, ctx) => {
  const parsed = parseBaseUrl(text);
  if (parsed.ok) return parsed.value;
  ctx.addIssue({ code: 'custom', message: parsed.message });
  return z.NEVER;
});

const upstreamSchema = z.strictObject({ baseUrl: baseUrlSchema });

const autoReloadSchema = z
  .strictObject({
    enabled: z.boolean(),
    threshold: credits,
    target: credits,
    maxPerMonth: z.number().int().nonnegative(),
  })
  .refine((reload) => reload.target > reload.threshold, { message: 'must be above threshold', path: ['target'] });

export const configFileSchema = z.strictObject({
  plan: z.string().min(1).optional(),
  plans: z.record(z.string().min(1), planSchema).optional(),
  rateCard: rateCardSchema.optional(),
  rateCardFile: z.string().min(1).optional(),
  autoUseCredits: z.boolean().optional(),
  upstreams: z.strictObject({ openai: upstreamSchema.optional(), anthropic: upstreamSchema.optional() }).optional(),
  port: z.number().int().min(0).max(MAX_PORT).optional(),
  maxBodyBytes: z.number().int().positive().optional(),
  upstreamTimeoutMs: z.number().int().positive().max(MAX_TIMEOUT_MS).optional(),
  autoReload: autoReloadSchema.optional(),
});

export type ConfigFile = z.infer<typeof configFileSchema>;
