/**
 * The list of exchanges in flight against a plain array: whatever order exchanges join and leave in
 * (leaving twice included), a stopping gateway finds exactly the open ones, oldest first.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OpenExchanges, type OpenEntry, type OpenExchange } from '../proxy/gateway/openExchanges';

/** An exchange that says which one it is. */
const exchange = (id: number): OpenExchange & { id: number } => ({ id, endForStop: () => Promise.resolve() });
const ids = (exchanges: readonly OpenExchange[]): number[] => exchanges.map((e) => (e as OpenExchange & { id: number }).id);

describe('OpenExchanges', () => {
  it('lists exactly the exchanges that joined and have not left, oldest first', () => {
    // Each step: join a new exchange, or make the n-th one so far leave (again, possibly).
    const step = fc.oneof(fc.constant<'join'>('join'), fc.nat(40));
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), (steps) => {
        const list = new OpenExchanges();
        const joined: { exchange: OpenExchange; entry: OpenEntry }[] = [];
        let expected: OpenExchange[] = [];
        for (const s of steps) {
          if (s === 'join') {
            const e = exchange(joined.length);
            joined.push({ exchange: e, entry: list.join(e) });
            expected.push(e);
          } else if (joined.length > 0) {
            const { exchange: e, entry } = joined[s % joined.length]!;
            list.leave(entry);
            expected = expected.filter((open) => open !== e);
          }
          expect(list.size).toBe(expected.length);
        }
        expect(ids(list.list())).toEqual(ids(expected));
      }),
    );
  });
});
