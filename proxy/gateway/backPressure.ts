/** Waiting on a slow reader: writers that produce much (CSV exports, large bodies) pause until it drains. */
import type { ServerResponse } from 'node:http';

/** Resolves once the response takes more bytes again, or is closed. */
export function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
