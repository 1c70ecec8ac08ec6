/**
 * GET /creditgate/v1/usage: per-request rows a page at a time, or totals grouped. A page is the newest
 * `limit` rows (DEFAULT_USAGE_PAGE unless asked, at most MAX_USAGE_PAGE) of the range before the
 * `before` cursor, oldest first; while older rows exist, `Link: <…>; rel="next"` names the next page.
 * A CSV export without a limit is the whole range, streamed page by page: a large account costs
 * neither the memory of all its rows at once nor a gateway that stops answering while they are read.
 */
import type { ServerResponse } from 'node:http';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { UsageGroup, UsageRow } from '../../shared/protocol';
import { describeIssues } from '../../shared/rateCard';
import { usageQuerySchema, type UsageQueryParams } from '../../shared/requests';
import * as operations from '../accountOperations';
import { csvHeader, csvLines, toCsv, USAGE_GROUP_COLUMNS, USAGE_ROW_COLUMNS } from '../usageCsv';
import type { GatewayContext, RequestUrl } from './context';
import { sendError, sendJson } from './respond';
import { drained } from './backPressure';

/** About 450 KB of JSON, read in a few milliseconds. */
export const DEFAULT_USAGE_PAGE = 1_000;
/** A larger `limit` is served as this many (the next page's link says where to go on). */
export const MAX_USAGE_PAGE = 10_000;
/** Rows per step of a streamed CSV export. */
const CSV_PAGE = 1_000;

const CSV_HEADERS = { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': 'attachment; filename="creditgate-usage.csv"' };

/** `seat`: a member's seat on a team's ledger, whose rows alone it may read (undefined: every row). */
export async function sendUsage(ctx: GatewayContext, res: ServerResponse, url: RequestUrl, seat?: string): Promise<void> {
  const parsed = usageQuerySchema.safeParse(Object.fromEntries(new URLSearchParams(url.search)));
  if (!parsed.success) return sendError(res, null, 'invalid_request', describeIssues(parsed.error));
  const query = { ...parsed.data, seat };
  if (query.groupBy) return sendGroups(res, (await operations.usage(ctx.book, query)) as UsageGroup[], query.format);
  if (query.format === 'csv' && query.limit === undefined) return streamCsv(ctx, res, query);

  const limit = Math.min(query.limit ?? DEFAULT_USAGE_PAGE, MAX_USAGE_PAGE);
  // One row more than the page tells whether an older page exists.
  const rows = await ctx.book.usageRows({ seat, since: query.since, until: query.until, beforeId: query.before, limit: limit + 1 });
  const page = rows.length > limit ? rows.slice(1) : rows;
  const headers: Record<string, string> = rows.length > limit ? { link: `<${nextPageUrl(url, page[0]!.id)}>; rel="next"` } : {};
  if (query.format === 'csv') {
    res.writeHead(200, { ...CSV_HEADERS, ...headers });
    res.end(toCsv(page, USAGE_ROW_COLUMNS));
    return;
  }
  sendJson(res, 200, page, headers);
}

/** Groups are few (days, models, clients, features): they come in one answer. */
function sendGroups(res: ServerResponse, groups: UsageGroup[], format: UsageQueryParams['format']): void {
  if (format !== 'csv') return sendJson(res, 200, groups);
  res.writeHead(200, CSV_HEADERS);
  res.end(toCsv(groups, USAGE_GROUP_COLUMNS));
}

/** The same query, one page further back: rows older than the oldest of this page. */
function nextPageUrl(url: RequestUrl, oldestId: number): string {
  const params = new URLSearchParams(url.search);
  params.set('before', String(oldestId));
  return `${url.pathname}?${params.toString()}`;
}

/** Every row of the range, oldest first, a page per turn of the event loop and no faster than the reader reads. */
async function streamCsv(ctx: GatewayContext, res: ServerResponse, query: UsageQueryParams & { seat?: string }): Promise<void> {
  res.writeHead(200, CSV_HEADERS);
  res.write(csvHeader<UsageRow>(USAGE_ROW_COLUMNS));
  try {
    let afterId: number | undefined;
    for (;;) {
      const rows = await ctx.book.usageRows({ seat: query.seat, since: query.since, until: query.until, beforeId: query.before, afterId, oldestFirst: true, limit: CSV_PAGE });
      if (rows.length > 0 && !res.write(csvLines(rows, USAGE_ROW_COLUMNS))) await drained(res);
      if (rows.length < CSV_PAGE || res.destroyed) break;
      afterId = rows.at(-1)!.id;
      await nextTurn();
    }
  } catch (error) {
    // A CSV that ends cleanly reads as complete: a failed export must break off instead.
    res.destroy();
    throw error;
  }
  res.end();
}

