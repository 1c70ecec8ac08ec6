/**
 * Values written into SQL text. A write transaction is two round trips (load, then flush and commit),
 * each several statements in one simple-protocol query, which takes no bound parameters: every value
 * goes in as a literal. Integers are checked to be integers, everything else is quoted by node-postgres'
 * escapeLiteral (and JSON documents are passed as one quoted string cast to jsonb).
 */
import { escapeLiteral } from 'pg';

export function int(value: number): string {
  if (!Number.isSafeInteger(value)) throw new Error(`not an integer: ${value}`);
  return String(value);
}

export function intOrNull(value: number | null): string {
  return value === null ? 'NULL' : int(value);
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

export function intList(values: Iterable<number>): string {
  const list = [...values].map(int);
  return list.length === 0 ? 'NULL' : list.join(', ');
}

/** An array argument (creditgate_load's): `ARRAY[1, 2]::bigint[]`, or an empty one. */
export function intArray(values: Iterable<number>): string {
  return `ARRAY[${[...values].map(int).join(', ')}]::bigint[]`;
}

export function textArray(values: Iterable<string>): string {
  return `ARRAY[${[...values].map(text).join(', ')}]::text[]`;
}
