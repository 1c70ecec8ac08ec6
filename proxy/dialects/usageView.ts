/**
 * A JSON document read for what metering needs from it (usage, event types, counts), never for its
 * text. Responses' terminal event repeats the whole answer and an image stream's repeats the image, so
 * parsing them as a client would costs far more than the few numbers the gateway reads:
 *   - a small document is parsed from Latin-1 instead of UTF-8. Every byte is one character, so the
 *     structure, the keys and the numbers come out exactly as from UTF-8, and only non-ASCII text inside
 *     strings (never read here) is garbled. The result is a one-byte string, which V8 parses about
 *     twice as fast as the two-byte string a single non-ASCII character makes of UTF-8 decoding;
 *   - a large one is scanned for its skeleton (jsonSkeleton.ts): usage objects and short top-level
 *     scalars, nothing of the text or image bytes. A 12 MiB image event took 41 ms of event loop
 *     through JSON.parse, 1.3 ms this way, and no copy of the image.
 */
import { JsonSkeletonScanner } from './jsonSkeleton';

/** Past this many bytes a document is scanned for its skeleton instead of parsed whole. */
export const SMALL_JSON_BYTES = 256 * 1024;

/** The document parsed (small) or its skeleton (large); undefined when it is not JSON. */
export function usageView(bytes: Buffer): unknown {
  if (bytes.length > SMALL_JSON_BYTES) {
    const scanner = new JsonSkeletonScanner();
    scanner.push(bytes);
    return scanner.result() ?? undefined;
  }
  try {
    return JSON.parse(bytes.toString('latin1'));
  } catch {
    return undefined;
  }
}

