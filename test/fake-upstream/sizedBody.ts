/**
 * A JSON body grown to an exact byte size by padding its answer text, produced as chunks so a 20 MB
 * response never exists as one string or buffer (the fake upstream must not be what uses the memory
 * in a large-response benchmark).
 */
import { DEFAULT_TEXT } from './behavior';

/** Stands in for the answer text in a body rendered for padding; replaced by the filler. */
export const FILL_MARKER = 'FAKE_UPSTREAM_FILL';

// The filler repeats the default answer with a JSON escape (\n) added: multi-byte characters and
// escapes all through the body, wherever a streaming parser downstream happens to split it.
const UNIT = Buffer.from(JSON.stringify(`${DEFAULT_TEXT}\n`).slice(1, -1));
const CHUNK_UNITS = Math.floor(65_536 / UNIT.length);
const BLOCK = Buffer.concat(Array.from({ length: CHUNK_UNITS }, () => UNIT));
const SPACE = 0x20;

export interface SizedBody {
  /** Exactly `bytes`, or the unpadded body's size when that is already larger. */
  length: number;
  chunks(): Generator<Buffer>;
}

/** `json` must contain FILL_MARKER once (inside a string); its place gets filler up to `bytes` in all. */
export function sizedBody(json: string, bytes: number): SizedBody {
  const at = json.indexOf(FILL_MARKER);
  if (at < 0 || json.indexOf(FILL_MARKER, at + 1) >= 0) throw new Error('the body must contain the fill marker exactly once');
  const head = Buffer.from(json.slice(0, at));
  const tail = Buffer.from(json.slice(at + FILL_MARKER.length));
  const fill = Math.max(0, bytes - head.length - tail.length);
  return {
    length: head.length + fill + tail.length,
    *chunks() {
      yield head;
      let left = fill;
      for (; left >= BLOCK.length; left -= BLOCK.length) yield BLOCK;
      const units = Math.floor(left / UNIT.length);
      if (units > 0) yield BLOCK.subarray(0, units * UNIT.length);
      // Whole units only, so no character is split; spaces make up the last few bytes.
      const spaces = left - units * UNIT.length;
      if (spaces > 0) yield Buffer.alloc(spaces, SPACE);
      yield tail;
    },
  };
}
