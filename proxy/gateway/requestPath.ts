/**
 * The request path as the gateway routes, meters and forwards it: normalised once, before routing, so
 * that the path a route was chosen for is the path the upstream serves. Two spellings of one route
 * (`/v1//chat/completions`, `/v1/messages/`) must not route differently here than upstream, or a
 * metered call could slip through as another route.
 *
 * Normalising: repeated slashes collapse, a trailing slash goes, and percent-escapes of letters,
 * digits, `-`, `_` and `~` are decoded (they mean the same character, RFC 3986 §6.2.2.2); other
 * escapes keep their meaning and are only upper-cased. Refused, because the upstream might read them
 * differently: dot segments (`.`, `..`), escaped `/`, `.`, `\` or `%`, escapes outside ASCII, `;`
 * (path parameters), and characters a path may not carry raw (spaces, backslashes, `#`, controls...).
 */

export type NormalisedPath = { ok: true; path: string } | { ok: false; reason: string };

/** Characters a path segment may carry as they are: RFC 3986 `pchar`, less `;`. */
const RAW_SEGMENT_CHAR = /^[A-Za-z0-9\-._~!$&'()*+,=:@]$/;
/** What an escape may decode to and stay decoded (RFC 3986 unreserved, less `.`). */
const DECODE = /^[A-Za-z0-9\-_~]$/;
/** Escapes refused outright: separators a decoding upstream would act on, and `%` (double escaping). */
const REFUSED_ESCAPES = new Set(['/', '\\', '.', '%']);
const HEX_PAIR = /^[0-9A-Fa-f]{2}$/;

/**
 * A path already in normal form: segments of raw path characters only (no escapes, no empty or dot
 * segments, no trailing slash). Every client's request is one of these, so it is answered without a copy.
 */
const ALREADY_NORMAL = /^(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9\-._~!$&'()*+,=:@]+)+$/;

export function normaliseRequestPath(path: string): NormalisedPath {
  if (ALREADY_NORMAL.test(path)) return { ok: true, path };
  if (!path.startsWith('/')) return refused('the request target must be a path starting with "/"');
  const segments: string[] = [];
  for (const raw of path.split('/')) {
    if (raw === '') continue; // repeated and trailing slashes
    if (raw === '.' || raw === '..') return refused('dot segments ("." and "..") are not accepted');
    const segment = normaliseSegment(raw);
    if (typeof segment !== 'string') return segment;
    segments.push(segment);
  }
  return { ok: true, path: `/${segments.join('/')}` };
}

function normaliseSegment(raw: string): string | Extract<NormalisedPath, { ok: false }> {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const char = raw[i]!;
    if (char !== '%') {
      if (!RAW_SEGMENT_CHAR.test(char)) return refused(`the character ${JSON.stringify(char)} is not accepted in a path`);
      out += char;
      continue;
    }
    const hex = raw.slice(i + 1, i + 3);
    if (!HEX_PAIR.test(hex)) return refused('a "%" must start a two-digit hex escape');
    const code = parseInt(hex, 16);
    const decoded = String.fromCharCode(code);
    if (code < 0x20 || code >= 0x7f || REFUSED_ESCAPES.has(decoded)) {
      return refused(`the escape %${hex.toUpperCase()} is not accepted in a path`);
    }
    out += DECODE.test(decoded) ? decoded : `%${hex.toUpperCase()}`;
    i += 2;
  }
  return out;
}

function refused(why: string): Extract<NormalisedPath, { ok: false }> {
  return { ok: false, reason: `Creditgate refuses ambiguous request paths: ${why}.` };
}
