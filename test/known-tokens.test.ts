/**
 * The gateway's token memory (proxy/gateway/knownTokens.ts): one lookup per token however many
 * requests wait for it, nothing remembered across a change of the ledger, unknown tokens never kept.
 */
import { describe, expect, it } from 'vitest';
import { KnownTokens } from '../proxy/gateway/knownTokens';
import type { AuthenticatedClient } from '../proxy/ledger/tokens';

const CODEX: AuthenticatedClient = { name: 'codex', role: 'client', seat: 'alice' };

/** A lookup that answers only when told to, as a query to a database server does, counting its calls. */
function deferredLookup() {
  const calls: { token: string; answer: (client: AuthenticatedClient | null) => void; fail: (error: Error) => void }[] = [];
  const lookup = (token: string): Promise<AuthenticatedClient | null> =>
    new Promise((resolve, reject) => calls.push({ token, answer: resolve, fail: reject }));
  return { calls, lookup };
}

describe('KnownTokens', () => {
  it('sends one lookup for a burst of requests with the same token, and answers them all', async () => {
    const { calls, lookup } = deferredLookup();
    const tokens = new KnownTokens(lookup);
    const waiting = Array.from({ length: 32 }, () => tokens.clientFor('cg_one'));
    expect(calls).toHaveLength(1);
    calls[0]!.answer(CODEX);
    expect(await Promise.all(waiting.map((w) => Promise.resolve(w)))).toEqual(Array.from({ length: 32 }, () => CODEX));
    // Remembered: the next request is answered at once, without a lookup.
    expect(tokens.clientFor('cg_one')).toEqual(CODEX);
    expect(calls).toHaveLength(1);
  });

  it('looks up different tokens separately', () => {
    const { calls, lookup } = deferredLookup();
    const tokens = new KnownTokens(lookup);
    void tokens.clientFor('cg_one');
    void tokens.clientFor('cg_two');
    expect(calls.map((call) => call.token)).toEqual(['cg_one', 'cg_two']);
  });

  it('does not remember what a lookup read before the ledger changed', async () => {
    const { calls, lookup } = deferredLookup();
    const tokens = new KnownTokens(lookup);
    const before = tokens.clientFor('cg_one');
    tokens.forget(); // say, the token was revoked meanwhile
    const after = tokens.clientFor('cg_one');
    expect(calls).toHaveLength(2);
    calls[0]!.answer(CODEX);
    expect(await before).toEqual(CODEX);
    calls[1]!.answer(null);
    expect(await after).toBeNull();
    void tokens.clientFor('cg_one');
    expect(calls).toHaveLength(3);
  });

  it('forgets remembered tokens on a change', async () => {
    const { calls, lookup } = deferredLookup();
    const tokens = new KnownTokens(lookup);
    const first = tokens.clientFor('cg_one');
    calls[0]!.answer(CODEX);
    await first;
    tokens.forget();
    void tokens.clientFor('cg_one');
    expect(calls).toHaveLength(2);
  });

  it('never remembers an unknown token: each guess is looked up again', async () => {
    const { calls, lookup } = deferredLookup();
    const tokens = new KnownTokens(lookup);
    const first = tokens.clientFor('cg_guess');
    calls[0]!.answer(null);
    expect(await first).toBeNull();
    void tokens.clientFor('cg_guess');
    expect(calls).toHaveLength(2);
  });

  it('fails every waiter when the lookup fails, and tries again on the next request', async () => {
    const { calls, lookup } = deferredLookup();
    const tokens = new KnownTokens(lookup);
    const waiting = [tokens.clientFor('cg_one'), tokens.clientFor('cg_one')];
    calls[0]!.fail(new Error('the database is away'));
    for (const result of await Promise.allSettled(waiting.map((w) => Promise.resolve(w)))) expect(result).toMatchObject({ status: 'rejected', reason: { message: 'the database is away' } });
    void tokens.clientFor('cg_one');
    expect(calls).toHaveLength(2);
  });

  it('answers at once when the lookup does (SQLite), remembering known tokens', () => {
    let lookups = 0;
    const tokens = new KnownTokens((token) => {
      lookups++;
      return token === 'cg_one' ? CODEX : null;
    });
    expect(tokens.clientFor('cg_one')).toEqual(CODEX);
    expect(tokens.clientFor('cg_one')).toEqual(CODEX);
    expect(tokens.clientFor('cg_other')).toBeNull();
    expect(tokens.clientFor('cg_other')).toBeNull();
    expect(lookups).toBe(3);
  });
});
