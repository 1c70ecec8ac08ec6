/**
 * GET /creditgate/v1/events: server-sent events, the current status at once, then every change.
 * A reader that does not keep up costs at most one status: while its socket is backed up, a newer
 * status replaces the one waiting, which is sent when the socket drains (a status is whole, so the
 * latest is all a reader needs). A reader that stays backed up is dropped.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Status } from '../../shared/protocol';
import type { StatusFeed } from './statusFeed';

/** A local reader drains in milliseconds; one backed up this long is gone or stuck. */
export const STALLED_READER_MS = 60_000;

/**
 * A comment this often keeps a quiet stream alive through proxies' read timeouts and NATs, and tells
 * a remote reader (an editor attached to a team gateway) that a silent stream is still there.
 */
export const KEEP_ALIVE_MS = 25_000;

/** `view` shapes each status for the reader (its token's role). */
export async function streamStatusEvents(
  feed: StatusFeed,
  req: IncomingMessage,
  res: ServerResponse,
  view: (status: Status) => Status = (status) => status,
): Promise<void> {
  // Read first: a ledger out of reach answers in the API's error shape, not with an empty stream.
  const first = await feed.current();
  // x-accel-buffering: an nginx in front of a team gateway (README "Serving a team") passes it on at once.
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
  let waiting: Status | null = null;
  let stalled: NodeJS.Timeout | null = null;
  /** Writes unless the reader is backed up; a write it does not take marks it so. */
  const write = (text: string): void => {
    if (res.write(text)) return;
    stalled = setTimeout(() => res.destroy(), STALLED_READER_MS);
    stalled.unref();
  };
  const send = (status: Status): void => {
    if (stalled) {
      waiting = status;
      return;
    }
    write(`event: status\ndata: ${JSON.stringify(view(status))}\n\n`);
  };
  res.on('drain', () => {
    if (stalled) clearTimeout(stalled);
    stalled = null;
    const latest = waiting;
    waiting = null;
    if (latest) send(latest);
  });
  send(first);
  // The feed closes when the gateway stops: the stream ends then, so readers know to reconnect.
  const unsubscribe = feed.subscribe(send, () => res.end());
  req.socket.setTimeout(0);
  const keepAlive = setInterval(() => {
    if (!stalled) write(': keep-alive\n\n');
  }, KEEP_ALIVE_MS);
  keepAlive.unref();
  res.once('close', () => {
    unsubscribe();
    clearInterval(keepAlive);
    if (stalled) clearTimeout(stalled);
  });
}
