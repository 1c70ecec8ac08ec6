/**
 * Schemas for the gateway's own API bodies (docs/product.md §2), validated at the edge with zod and shared by
 * the HTTP API, the CLI and the extension's JSON-RPC.
 */
import { GRANT_SOURCES, USAGE_GROUP_KEYS } from './protocol';
import * as z from './zod';

const isoDate = z.string().check(z.refine((value) => !Number.isNaN(Date.parse(value)), { message: 'expected an ISO-8601 date' }));

// z.number() already refuses Infinity and NaN.
export const addCreditsSchema = z.strictObject({
  amount: z.number().check(z.positive(), z.lte(1e9)),
  idempotencyKey: z.string().check(z.minLength(1), z.maxLength(200)),
  source: z._default(z.enum(GRANT_SOURCES), 'purchase'),
  expiresAt: z.optional(isoDate),
});

export const usageQuerySchema = z.object({
  since: z.optional(isoDate),
  until: z.optional(isoDate),
  groupBy: z.optional(z.enum(USAGE_GROUP_KEYS)),
  limit: z.optional(z.coerce.number().check(z.int(), z.positive(), z.lte(1_000_000))),
  /** A page cursor: only rows older than this id (the oldest id of the page before). */
  before: z.optional(z.coerce.number().check(z.int(), z.positive())),
  format: z._default(z.enum(['json', 'csv']), 'json'),
});

const timeZoneSchema = z.string().check(
  z.refine((zone) => {
    try {
      new Intl.DateTimeFormat('en-CA', { timeZone: zone });
      return true;
    } catch {
      return false;
    }
  }, 'expected an IANA time zone'),
);

/** The balance history's range start and the time zone whose days group the spending. */
export const balanceHistorySchema = z.strictObject({
  since: z.optional(isoDate),
  timeZone: z.optional(timeZoneSchema),
});

/** A team's seats (docs/product.md §8); names are checked by the ledger (proxy/ledger/seats.ts). */
export const addSeatSchema = z.strictObject({ name: z.string().check(z.minLength(1)), plan: z.optional(z.string().check(z.minLength(1))) });

/** A seat's overflow policy: continue on the pool once its windows are used up, and a weekly cap in credits (null: none). */
export const seatOverflowSchema = z.strictObject({
  continueOnPool: z.optional(z.boolean()),
  weeklyCap: z.optional(z.nullable(z.number().check(z.gte(0), z.lte(1e9)))),
});

/** Whose windows a reset closes: one seat's, or (without a body) every seat's. */
export const resetWindowsSchema = z.strictObject({ seat: z.optional(z.string().check(z.minLength(1))) });

export const setPlanSchema = z.strictObject({ plan: z.string().check(z.minLength(1)) });

export const autoReloadSchema = z
  .strictObject({
    enabled: z.boolean(),
    threshold: z.number().check(z.nonnegative()),
    target: z.number().check(z.positive()),
    maxPerMonth: z.number().check(z.int(), z.nonnegative()),
  })
  .check(z.refine((value) => value.target > value.threshold, { message: 'target must be above threshold', path: ['target'] }));

export const settingsSchema = z.strictObject({
  autoUseCredits: z.optional(z.boolean()),
  autoReload: z.optional(autoReloadSchema),
});

export type AddCreditsBody = z.infer<typeof addCreditsSchema>;
export type UsageQueryParams = z.infer<typeof usageQuerySchema>;
export type AutoReloadConfig = z.infer<typeof autoReloadSchema>;
