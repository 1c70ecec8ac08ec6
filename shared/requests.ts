/**
 * Schemas for the gateway's own API bodies (SPEC §2), validated at the edge with zod and shared by
 * the HTTP API, the CLI and the extension's JSON-RPC.
 */
import { z } from 'zod';
import { GRANT_SOURCES, USAGE_GROUP_KEYS } from './protocol';

const isoDate = z.string().refine((value) => !Number.isNaN(Date.parse(value)), { message: 'expected an ISO-8601 date' });

export const addCreditsSchema = z
  .object({
    amount: z.number().finite().positive().max(1e9),
    idempotencyKey: z.string().min(1).max(200),
    source: z.enum(GRANT_SOURCES).default('purchase'),
    expiresAt: isoDate.optional(),
  })
  .strict();

export const usageQuerySchema = z.object({
  since: isoDate.optional(),
  until: isoDate.optional(),
  groupBy: z.enum(USAGE_GROUP_KEYS).optional(),
  limit: z.coerce.number().int().positive().max(1_000_000).optional(),
  format: z.enum(['json', 'csv']).default('json'),
});

export const setPlanSchema = z.object({ plan: z.string().min(1) }).strict();

export const autoReloadSchema = z
  .object({
    enabled: z.boolean(),
    threshold: z.number().finite().nonnegative(),
    target: z.number().finite().positive(),
    maxPerMonth: z.number().int().nonnegative(),
  })
  .strict()
  .refine((value) => value.target > value.threshold, { message: 'target must be above threshold', path: ['target'] });

export const settingsSchema = z
  .object({
    autoUseCredits: z.boolean().optional(),
    autoReload: autoReloadSchema.optional(),
  })
  .strict();

export type AddCreditsBody = z.infer<typeof addCreditsSchema>;
export type UsageQueryParams = z.infer<typeof usageQuerySchema>;
export type AutoReloadConfig = z.infer<typeof autoReloadSchema>;
