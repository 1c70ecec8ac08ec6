import { afterEach, describe, expect, it } from 'vitest';
import type { Status } from '../shared/protocol';
import { StatusFeed } from '../proxy/gateway/statusFeed';

/** A status source whose balance and data version the test moves by hand. */
function fakeSource() {
  const state = { balance: 0, version: 1 };
  const status = (): Status => ({
    plan: 'plus',
    state: 'plan',
    autoUseCredits: true,
    windows: [],
    credits: { balance: state.balance, held: 0, available: state.balance },
    lastCharge: null,
    burnRatePerHour: 0,
  });
  return { state, source: { status, dataVersion: () => state.version } };
}

let feed: StatusFeed | null = null;
afterEach(() => feed?.close());

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('StatusFeed', () => {
  it('pushes a change made by another process within one poll, even after a client read it', async () => {
    const { state, source } = fakeSource();
    feed = new StatusFeed(source, Date.now, 20);
    const pushed: number[] = [];
    feed.subscribe((status) => pushed.push(status.credits.balance));
    state.balance = 5;
    state.version++;
    expect((await feed.current()).credits.balance).toBe(5);
    await tick(60);
    expect(pushed).toEqual([5]);
  });

  it('coalesces local changes and skips pushes that show nothing new', async () => {
    const { state, source } = fakeSource();
    feed = new StatusFeed(source, Date.now, 1_000);
    const pushed: number[] = [];
    feed.subscribe((status) => pushed.push(status.credits.balance));
    state.balance = 1;
    feed.changed();
    feed.changed();
    await tick(10);
    feed.changed();
    await tick(10);
    expect(pushed).toEqual([1]);
  });

  it('tells its subscribers when it closes, once, and pushes nothing after', async () => {
    const { state, source } = fakeSource();
    feed = new StatusFeed(source, Date.now, 20);
    const heard: string[] = [];
    feed.subscribe(
      () => heard.push('status'),
      () => heard.push('closed'),
    );
    const unsubscribed = feed.subscribe(
      () => heard.push('other status'),
      () => heard.push('other closed'),
    );
    unsubscribed();
    feed.close();
    feed.close();
    state.balance = 3;
    state.version++;
    feed.changed();
    await tick(60);
    expect(heard).toEqual(['closed']);
  });

  it('tells data-change listeners (the token cache) about every new data version', async () => {
    const { state, source } = fakeSource();
    feed = new StatusFeed(source, Date.now, 20);
    let changes = 0;
    feed.onDataChange(() => changes++);
    await tick(50);
    expect(changes).toBe(0);
    state.version++;
    await tick(50);
    expect(changes).toBe(1);
  });
});
