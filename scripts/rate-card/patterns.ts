/**
 * The catalogue's match rules as rate-card keys: an exact name for `equals`, a glob for the rest
 * (`*` any run of characters, `?` one character). The card picks an exact name first, then the
 * longest glob; the catalogue picks the first model whose rule matches. generate.ts checks that the
 * two agree on every name the rules mention; a rule this cannot express stops the build.
 */
import * as z from '../../shared/zod';

type MatchLogic =
  | { equals: string }
  | { starts_with: string }
  | { ends_with: string }
  | { contains: string }
  | { regex: string }
  | { or: MatchLogic[] }
  | { and: MatchLogic[] };

const text = z.string().check(z.minLength(1));
const matchSchema: z.ZodMiniType<MatchLogic> = z.union([
  z.strictObject({ equals: text }),
  z.strictObject({ starts_with: text }),
  z.strictObject({ ends_with: text }),
  z.strictObject({ contains: text }),
  z.strictObject({ regex: text }),
  z.strictObject({ get or() { return z.array(matchSchema); } }),
  z.strictObject({ get and() { return z.array(matchSchema); } }),
]);

/** Card keys for one catalogue model's match rule, in the rule's order. */
export function cardPatterns(match: unknown, modelId: string): string[] {
  const parsed = matchSchema.safeParse(match);
  if (!parsed.success) throw new Error(`catalogue model "${modelId}": unexpected match rule ${JSON.stringify(match)}`);
  return [...new Set(patternsOf(parsed.data, modelId))];
}

function patternsOf(rule: MatchLogic, modelId: string): string[] {
  if ('or' in rule) return rule.or.flatMap((r) => patternsOf(r, modelId));
  if ('and' in rule) throw new Error(`catalogue model "${modelId}": an "and" match rule has no rate-card glob`);
  if ('equals' in rule) return [literal(rule.equals, modelId)];
  if ('starts_with' in rule) return [`${literal(rule.starts_with, modelId)}*`];
  if ('ends_with' in rule) return [`*${literal(rule.ends_with, modelId)}`];
  if ('contains' in rule) return [`*${literal(rule.contains, modelId)}*`];
  return [globOfRegex(rule.regex, modelId)];
}

/** Names the card matches literally; one holding a wildcard would turn into a glob. */
function literal(name: string, modelId: string): string {
  if (/[*?]/.test(name)) throw new Error(`catalogue model "${modelId}": "${name}" holds a rate-card wildcard`);
  return name;
}

/**
 * The anchored regexes the catalogue uses for dated snapshots, `^gpt-6-sol-\d{4}-\d{2}-\d{2}$`: literal
 * characters (a dot escaped) and digit runs. A digit becomes `?`, which also matches a non-digit:
 * no served model name differs from a snapshot's only by having letters where its date is.
 */
function globOfRegex(regex: string, modelId: string): string {
  const whole = /^\^((?:[a-z0-9-]|\\\.|\\d(?:\{\d+\})?)+)\$$/i.exec(regex);
  if (!whole) throw new Error(`catalogue model "${modelId}": regex ${regex} has no rate-card glob`);
  return whole[1]!.replace(/\\d(?:\{(\d+)\})?|\\\./g, (token, count: string | undefined) =>
    token === '\\.' ? '.' : '?'.repeat(count === undefined ? 1 : Number(count)),
  );
}

/** A name the glob matches, for checking the card against the catalogue: wildcards filled with zeros. */
export function sampleName(pattern: string): string {
  return pattern.replace(/\*/g, '').replace(/\?/g, '0');
}
