/**
 * Lookups by a name that came from input (a plan, a model). `record[name]` also finds what
 * every object inherits: `constructor`, `toString`, `__proto__`, `hasOwnProperty` would name a function
 * or Object.prototype instead of nothing. Only the record's own entries count here.
 */
export function ownValue<T>(record: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.hasOwn(record, name) ? record[name] : undefined;
}
