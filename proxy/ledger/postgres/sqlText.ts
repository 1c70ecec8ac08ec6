/**
 * Values written into SQL text. A write transaction is two round trips (load, then flush and commit),
 * each several statements in one simple-protocol query, which takes no bound parameters: every value
 * (the arguments of creditgate_load and creditgate_flush among them) goes in as a literal. Integers are checked to be integers, everything else is quoted by node-postgres'
 * escapeLiteral (and JSON documents are passed as one quoted string cast to jsonb).
 */
import { escapeLiteral } from 'pg';

export function int(value: number): string {
  return String(safeInteger(value));
}

/** The value, checked to be an integer (for a JSON document's bigint fields). */
export function safeInteger(value: number): number {
  if (!Number.isSafeInteger(value)) throw new Error(`not an integer: ${value}`);
  return value;
}

export function text(value: string): string {
  return escapeLiteral(value);
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
