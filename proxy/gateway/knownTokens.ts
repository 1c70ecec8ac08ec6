/**
 * The gateway's memory of which client a presented token belongs to, so that a request does not hash
 * and look up its token every time. On SQLite the lookup answers at once; on PostgreSQL it is a query,
 * and a burst of requests arriving just after the memory was dropped would otherwise send one query
 * each (32 connections: 32 identical queries): requests waiting for the same token share one lookup.
 *
 * The memory is dropped whenever the ledger may have changed (a token revoked anywhere): `forget()`.
 * A lookup still on its way then answers its own waiters but is not remembered, since it may have
 * read the token from before the change.
 */
import type { AuthenticatedClient } from '../ledger/tokens';

export type TokenLookup = (token: string) => AuthenticatedClient | null | Promise<AuthenticatedClient | null>;

export class KnownTokens {
  /** Tokens that name a client; an unknown token is never remembered (nor are a prober's guesses). */
  private readonly known = new Map<string, AuthenticatedClient>();
  private readonly inFlight = new Map<string, Promise<AuthenticatedClient | null>>();
  /** Counts forget() calls: a lookup that started before the latest one is not remembered. */
  private generation = 0;

  constructor(private readonly lookup: TokenLookup) {}

  /** The token's client, or null when no live token matches; synchronous when remembered or on SQLite. */
  clientFor(token: string): AuthenticatedClient | null | Promise<AuthenticatedClient | null> {
    const known = this.known.get(token);
    if (known !== undefined) return known;
    const pending = this.inFlight.get(token);
    if (pending !== undefined) return pending;
    const found = this.lookup(token);
    if (!(found instanceof Promise)) return this.remember(token, found);
    const generation = this.generation;
    const settled = (): void => {
      if (this.inFlight.get(token) === shared) this.inFlight.delete(token);
    };
    const shared = found.then(
      (client) => {
        settled();
        return generation === this.generation ? this.remember(token, client) : client;
      },
      (error: unknown) => {
        settled();
        throw error;
      },
    );
    this.inFlight.set(token, shared);
    return shared;
  }

  /** Drops everything remembered: the next request with any token looks it up again. */
  forget(): void {
    this.generation++;
    this.known.clear();
    this.inFlight.clear();
  }

  private remember(token: string, client: AuthenticatedClient | null): AuthenticatedClient | null {
    if (client !== null) this.known.set(token, client);
    return client;
  }
}
