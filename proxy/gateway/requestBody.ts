/** Reads a request body with a size limit, refusing early from Content-Length when it is declared. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiFamily } from '../dialects/types';
import { sendError } from './respond';

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request body exceeds the gateway's limit of ${limit} bytes`);
  }
}

export function declaredTooLarge(req: IncomingMessage, limit: number): boolean {
  const declared = Number(req.headers['content-length']);
  return Number.isFinite(declared) && declared > limit;
}

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        // Keep draining without storing, so the 413 reaches a client still sending.
        req.resume();
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}

/**
 * The whole body of a /v1 request, or null once the request is answered: a 413 in the route's error
 * shape when it is over the limit (the connection then closes), nothing when the client went away.
 */
export async function readRequestBody(req: IncomingMessage, res: ServerResponse, api: ApiFamily, limit: number): Promise<Buffer | null> {
  if (declaredTooLarge(req, limit)) {
    res.setHeader('connection', 'close');
    sendError(res, api, 'too_large', `Request body exceeds the gateway's limit of ${limit} bytes.`);
    return null;
  }
  try {
    return await readBody(req, limit);
  } catch (error) {
    if (error instanceof BodyTooLargeError) {
      res.setHeader('connection', 'close');
      sendError(res, api, 'too_large', `Request body exceeds the gateway's limit of ${error.limit} bytes.`);
    }
    return null; // or the client went away while sending
  }
}
