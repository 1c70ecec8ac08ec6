/**
 * Values written into SQL text. A write transaction is one or two round trips (load, then commit),
 * each several statements in one simple-protocol query, which takes no bound parameters: every value
 * (the arguments of creditgate_load and creditgate_commit among them) goes in as a literal. Integers
 * are checked to be integers, everything else is quoted as node-postgres' escapeLiteral quotes it (and
 * JSON documents are passed as one quoted string cast to jsonb).
 */

export function int(value: number): string {
  return String(safeInteger(value));
}

/** The value, checked to be an integer (for a JSON document's bigint fields). */
export function safeInteger(value: number): number {
  if (!Number.isSafeInteger(value)) throw new Error(`not an integer: ${value}`);
  return value;
}

/**
 * escapeLiteral's output (quotes doubled; with a backslash, backslashes doubled and an E'' string),
 * built with two native replaces: escapeLiteral appends character by character, and a commit's
 * document runs to kilobytes.
 */
export function text(value: string): string {
  const quoted = `'${value.replaceAll("'", "''")}'`;
  return value.includes('\\') ? ` E${quoted.replaceAll('\\', '\\\\')}` : quoted;
}

export function textOrNull(value: string | null): string {
  return value === null ? 'NULL' : text(value);
}

export function bool(value: boolean | null): string {
  return value === null ? 'NULL' : value ? 'TRUE' : 'FALSE';
}

export function jsonb(value: unknown): string {
  return value === null ? 'NULL' : `${text(JSON.stringify(value))}::jsonb`;
}

/** An array argument (creditgate_load's): `ARRAY[1, 2]::bigint[]`, or an empty one. */
export function intArray(values: Iterable<number>): string {
  return `ARRAY[${[...values].map(int).join(', ')}]::bigint[]`;
}

export function textArray(values: Iterable<string>): string {
  return `ARRAY[${[...values].map(text).join(', ')}]::text[]`;
}
