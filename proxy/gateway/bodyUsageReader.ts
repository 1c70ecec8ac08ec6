/**
 * Reads a non-streaming response body for its usage while the bytes are relayed, in bounded memory.
 * Small bodies (nearly all of them) are kept and parsed whole at the end (as Latin-1, usageView.ts),
 * which is the fastest path; once a body grows past SMALL_JSON_BYTES it is scanned as it passes and
 * only its skeleton is kept (dialects/jsonSkeleton.ts), so a 200 MB body costs no more memory than a
 * 2 KB one. Compressed bodies are decoded by a streaming decoder on the side.
 */
import { JsonSkeletonScanner } from '../dialects/jsonSkeleton';
import { SMALL_JSON_BYTES, usageView } from '../dialects/usageView';
import { createDecoder, type Encoding } from './contentEncoding';

export class BodyUsageReader {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private scanner: JsonSkeletonScanner | null = null;
  private readonly decoder: ReturnType<typeof createDecoder> | null;
  private decodeFailed = false;

  constructor(encoding: Encoding | null) {
    this.decoder = encoding ? createDecoder(encoding) : null;
    this.decoder?.on('data', (chunk: Buffer) => this.take(chunk));
    this.decoder?.on('error', () => (this.decodeFailed = true));
  }

  /** Feeds the body's bytes as received (still compressed, if they are). */
  push(chunk: Buffer): void {
    if (this.decoder) {
      if (!this.decodeFailed) this.decoder.write(chunk);
    } else this.take(chunk);
  }

  /** Calls back with the parsed body (or its skeleton), or null when it is not JSON. */
  end(done: (body: unknown) => void): void {
    if (!this.decoder) return done(this.result());
    if (this.decodeFailed) return done(null);
    this.decoder.once('end', () => done(this.decodeFailed ? null : this.result()));
    this.decoder.once('error', () => done(null));
    this.decoder.end();
  }

  /** Stops decoding (the response was abandoned). */
  destroy(): void {
    this.decoder?.destroy();
    this.chunks = [];
  }

  private take(chunk: Buffer): void {
    if (this.scanner) return this.scanner.push(chunk);
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    // Past the size usageView parses whole, the body is scanned as it passes: nothing more is kept.
    if (this.bytes <= SMALL_JSON_BYTES) return;
    this.scanner = new JsonSkeletonScanner();
    for (const kept of this.chunks) this.scanner.push(kept);
    this.chunks = [];
  }

  private result(): unknown {
    if (this.scanner) return this.scanner.result();
    // A small body usually arrives in one chunk: no copy then.
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = [];
    return usageView(body) ?? null;
  }
}
