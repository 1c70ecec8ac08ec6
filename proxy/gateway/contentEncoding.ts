/** The response encodings the gateway decodes to meter a body (the client always gets the bytes as sent). */
import type { IncomingHttpHeaders } from 'node:http';
import zlib from 'node:zlib';

export type Encoding = 'gzip' | 'deflate' | 'br';

export function contentEncoding(headers: IncomingHttpHeaders): Encoding | null {
  const value = headers['content-encoding']?.trim().toLowerCase();
  return value === 'gzip' || value === 'x-gzip' ? 'gzip' : value === 'deflate' || value === 'br' ? value : null;
}

/** A streaming decoder: a compressed body is decoded chunk by chunk, never whole and never synchronously. */
export function createDecoder(encoding: Encoding): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress {
  if (encoding === 'gzip') return zlib.createGunzip();
  if (encoding === 'deflate') return zlib.createInflate();
  return zlib.createBrotliDecompress();
}
