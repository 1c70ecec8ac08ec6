/** CSV export of usage rows and groups (RFC 4180 quoting), shared by the CLI and the HTTP API. */
import type { UsageGroup, UsageRow } from '../shared/protocol';

function cell(value: string | number | boolean | null | undefined): string {
  const text = value === null || value === undefined ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv<T extends UsageRow | UsageGroup>(rows: readonly T[], columns: readonly (keyof T)[]): string {
  return csvHeader(columns) + csvLines(rows, columns);
}

export function csvHeader<T>(columns: readonly (keyof T)[]): string {
  return `${columns.join(',')}\r\n`;
}

/** The rows' lines without the header, for a CSV written page by page. */
export function csvLines<T extends UsageRow | UsageGroup>(rows: readonly T[], columns: readonly (keyof T)[]): string {
  let out = '';
  for (const row of rows) out += `${columns.map((column) => cell(row[column] as string | number | boolean | null)).join(',')}\r\n`;
  return out;
}

export const USAGE_ROW_COLUMNS: readonly (keyof UsageRow)[] = [
  'id', 'ts', 'client', 'feature', 'model', 'route', 'status', 'inputTokens', 'cachedInputTokens', 'cacheWriteTokens',
  'outputTokens', 'reasoningTokens', 'cost', 'planCost', 'creditCost', 'estimated', 'reason', 'unpriced',
];

export const USAGE_GROUP_COLUMNS: readonly (keyof UsageGroup)[] = ['key', 'requests', 'cost', 'inputTokens', 'outputTokens'];
