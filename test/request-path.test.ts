import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { normaliseRequestPath } from '../proxy/gateway/requestPath';

const normalised = (path: string): string | null => {
  const result = normaliseRequestPath(path);
  return result.ok ? result.path : null;
};

describe('normaliseRequestPath', () => {
  it('collapses repeated slashes and drops a trailing slash', () => {
    expect(normalised('/v1//chat/completions')).toBe('/v1/chat/completions');
    expect(normalised('//v1///messages//')).toBe('/v1/messages');
    expect(normalised('/v1/messages/')).toBe('/v1/messages');
    expect(normalised('/')).toBe('/');
    expect(normalised('//')).toBe('/');
  });

  it('decodes escaped letters, digits, "-", "_" and "~", and upper-cases the escapes it keeps', () => {
    expect(normalised('/v1/chat/c%6Fmpletions')).toBe('/v1/chat/completions');
    expect(normalised('/v1/models/ft%3agpt-4o-mini%3Aacme')).toBe('/v1/models/ft%3Agpt-4o-mini%3Aacme');
    expect(normalised('/v1/models/gpt-4.1')).toBe('/v1/models/gpt-4.1');
    expect(normalised('/v1/models/ft:gpt-4o-mini:acme::abc')).toBe('/v1/models/ft:gpt-4o-mini:acme::abc');
  });

  it.each([
    ['/v1/models/../batches', 'dot segments'],
    ['/v1/./responses', 'dot segments'],
    ['/v1/..', 'dot segments'],
    ['/v1/chat%2Fcompletions', '%2F'],
    ['/v1/chat%2fcompletions', '%2F'],
    ['/v1/%2e%2e/batches', '%2E'],
    ['/v1/%2E/responses', '%2E'],
    ['/v1/chat%5Ccompletions', '%5C'],
    ['/v1/chat\\completions', '"\\\\"'],
    ['/v1/chat%252Fcompletions', '%25'],
    ['/v1/responses%00', '%00'],
    ['/v1/responses%C0%AF', '%C0'],
    ['/v1/batches;x=1', '";"'],
    ['/v1/responses#x', '"#"'],
    ['/v1/res ponses', '" "'],
    ['/v1/responses%', 'two-digit hex'],
    ['/v1/responses%4', 'two-digit hex'],
    ['/v1/responses%zz', 'two-digit hex'],
    ['http://127.0.0.1/v1/responses', 'starting with "/"'],
    ['*', 'starting with "/"'],
  ])('refuses %s (%s)', (path, why) => {
    const result = normaliseRequestPath(path);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(why);
  });

  // Paths built from pieces that matter: separators, dots, escapes (good and bad), plain characters.
  const piece = fc.constantFrom('/', '//', '.', '..', 'v1', 'chat', 'a.b', '%2F', '%2e', '%41', '%3a', '%', '~', ';', ':', '-', '\\', ' ');
  const pathArb = fc.array(piece, { maxLength: 12 }).map((pieces) => `/${pieces.join('')}`);

  it('is idempotent and never yields "//", "/./" or "/../" (property)', () => {
    fc.assert(
      fc.property(fc.oneof(pathArb, fc.string().map((s) => `/${s}`)), (path) => {
        const once = normaliseRequestPath(path);
        if (!once.ok) return;
        expect(normaliseRequestPath(once.path)).toEqual(once);
        // With a slash added, a last segment of "." or ".." would show as "/./" or "/../" too.
        const bounded = once.path === '/' ? once.path : `${once.path}/`;
        expect(bounded).not.toMatch(/\/\/|\/\.\/|\/\.\.\//);
        expect(once.path === '/' || !once.path.endsWith('/')).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps the meaning: only separators and unreserved escapes change (property)', () => {
    fc.assert(
      fc.property(pathArb, (path) => {
        const once = normaliseRequestPath(path);
        if (!once.ok) return;
        const meaning = (p: string): string => decodeURIComponent(p).split('/').filter(Boolean).join('/');
        expect(meaning(once.path)).toBe(meaning(path));
      }),
      { numRuns: 1000 },
    );
  });
});
