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

export async function streamStatusEvents(feed: StatusFeed, req: IncomingMessage, res: ServerResponse): Promise<void> {
  // Read first: a ledger out of reach answers in the API's error shape, not with an empty stream.
  const first = await feed.current();
  // x-accel-buffering: an nginx in front of a team gateway (README "Serving a team") passes it on at once.
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
  let waiting: Status | null = null;
  let stalled: NodeJS.Timeout | null = null;
  const send = (status: Status): void => {
    if (stalled) {
      waiting = status;
      return;
    }
    if (res.write(`event: status\ndata: ${JSON.stringify(status)}\n\n`)) return;
    stalled = setTimeout(() => res.destroy(), STALLED_READER_MS);
    stalled.unref();
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
  res.once('close', () => {
    unsubscribe();
    if (stalled) clearTimeout(stalled);
  });
}
