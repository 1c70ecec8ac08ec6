/**
 * The config file's shape (docs/product.md §4), strict at every level so a typo is an error, not a silent
 * default. Money here is in credits, as users write it; the loader converts to micro-credits.
 */
import { creditsToMicro } from '../../shared/money';
import { rateCardSchema } from '../../shared/rateCard';
import * as z from '../../shared/zod';
import { MAX_TIMEOUT_MS } from './defaults';
import { MAX_PORT, parseBaseUrl, parseDatabaseUrl, parseHostName, parseListenHost, type Parsed } from './values';

const credits = z
  .number()
  .check(
    z.nonnegative(),
    z.refine((value) => creditsToMicro(value) !== null, 'expected credits with at most 6 decimals'),
  );

const planSchema = z.strictObject({
  windows: z.strictObject({ '5h': credits, weekly: credits }),
  features: z._default(z.array(z.string().check(z.minLength(1))), ['assistant']),
  seats: z.optional(z.number().check(z.int(), z.positive())),
});

/** A string checked and normalised by one of values.ts's parsers. */
const parsedString = <T>(parse: (text: string) => Parsed<T>) =>
  z.pipe(
    z.string(),
    z.transform((text: string, ctx) => {
      const parsed = parse(text);
      if (parsed.ok) return parsed.value;
      // zod/mini's transform context has no addIssue: the issue goes straight into the payload.
      ctx.issues.push({ code: 'custom', message: parsed.message, input: text });
      return z.NEVER;
    }),
  );

const baseUrlSchema = parsedString(parseBaseUrl);

const upstreamSchema = z.strictObject({ baseUrl: baseUrlSchema });

const autoReloadSchema = z
  .strictObject({
    enabled: z.boolean(),
    threshold: credits,
    target: credits,
    maxPerMonth: z.number().check(z.int(), z.nonnegative()),
  })
  .check(z.refine((reload) => reload.target > reload.threshold, { message: 'must be above threshold', path: ['target'] }));

const nonEmpty = () => z.string().check(z.minLength(1));
/** A positive number of milliseconds a Node timer can hold (see MAX_TIMEOUT_MS). */
const timeoutMs = () => z.number().check(z.int(), z.positive(), z.lte(MAX_TIMEOUT_MS));

export const configFileSchema = z.strictObject({
  plan: z.optional(nonEmpty()),
  plans: z.optional(z.record(nonEmpty(), planSchema)),
  rateCard: z.optional(rateCardSchema),
  rateCardFile: z.optional(nonEmpty()),
  autoUseCredits: z.optional(z.boolean()),
  upstreams: z.optional(z.strictObject({ openai: z.optional(upstreamSchema), anthropic: z.optional(upstreamSchema) })),
  port: z.optional(z.number().check(z.int(), z.gte(0), z.lte(MAX_PORT))),
  // `creditgate serve` beyond loopback (docs/product.md §8); the editor's own gateway stays on loopback.
  host: z.optional(parsedString(parseListenHost)),
  allowedHosts: z.optional(z.array(parsedString(parseHostName))),
  tls: z.optional(z.strictObject({ cert: nonEmpty(), key: nonEmpty() })),
  maxBodyBytes: z.optional(z.number().check(z.int(), z.positive())),
  overspendMargin: z.optional(credits),
  upstreamTimeoutMs: z.optional(timeoutMs()),
  upstreamFirstByteTimeoutMs: z.optional(timeoutMs()),
  upstreamInterByteTimeoutMs: z.optional(timeoutMs()),
  requestHeadersTimeoutMs: z.optional(timeoutMs()),
  requestBodyTimeoutMs: z.optional(timeoutMs()),
  keepAliveTimeoutMs: z.optional(timeoutMs()),
  maxConnections: z.optional(z.number().check(z.int(), z.positive())),
  shutdownGraceMs: z.optional(z.number().check(z.int(), z.nonnegative(), z.lte(MAX_TIMEOUT_MS))),
  ledgerBusyTimeoutMs: z.optional(z.number().check(z.int(), z.nonnegative(), z.lte(MAX_TIMEOUT_MS))),
  autoReload: z.optional(autoReloadSchema),
  /** A postgres:// URL: the ledger lives there (team mode) instead of the data directory's SQLite file. */
  database: z.optional(z.string().check(z.refine((text) => parseDatabaseUrl(text).ok, { message: 'expected a postgres:// URL' }))),
});

export type ConfigFile = z.infer<typeof configFileSchema>;
