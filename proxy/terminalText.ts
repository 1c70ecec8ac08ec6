/**
 * Text from the ledger and from requests, made safe to print in a terminal. Model names, client names,
 * routes, plan names and idempotency keys arrive from clients and configs; a name carrying ESC [ …
 * could recolour the screen, move the cursor, retitle the window or hide the lines after it, and a
 * bidirectional override could make one name read as another. Such characters are shown escaped
 * (`\u001b`), visible and inert. JSON output needs none of this: JSON escapes them itself.
 */

// C0 controls, DEL, C1 controls (8-bit CSI among them), zero-width and bidi controls, line and
// paragraph separators, and the byte-order mark.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g;

const escaped = (char: string): string => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** One line's worth of text (a name, a key): every unsafe character escaped, newlines included. */
export function printable(text: string): string {
  return text.replace(UNSAFE, escaped);
}

/** A message that may span lines: each line made printable, the line breaks kept. */
export function printableLines(text: string): string {
  return text.split('\n').map(printable).join('\n');
}

/** Rows whose string fields are made printable, for CSV printed by the CLI. */
export function printableRows<T extends object>(rows: readonly T[]): T[] {
  return rows.map(
    (row) => Object.fromEntries(Object.entries(row).map(([key, value]) => [key, typeof value === 'string' ? printable(value) : value])) as T,
  );
}
