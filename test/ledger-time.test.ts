/**
 * Wall-clock jumps (proxy/ledger/trustedTime.ts). A +3-day jump used to write off a 40-credit grant
 * due in 2 days, for good, as soon as `creditgate status` ran; a −1-day jump kept a blocked user
 * blocked a day longer. Now expiry waits until the wall clock and the measured time agree, and windows
 * follow the later of the two: a jump never writes off credits early and never stretches a window.
 */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { Ledger } from '../proxy/ledger/ledger';
import type { MonotonicClock, TimeMark } from '../proxy/ledger/trustedTime';
import { CONFIRM_AHEAD_MS, WALL_CLOCK_TOLERANCE_MS, TrustedClock, markWorthStoring, storedMark, systemMonotonicClock } from '../proxy/ledger/trustedTime';
import type { TempLedger } from './fixtures/ledger-setup';
import { FIVE_HOURS, HOUR, T0, WEEK, auditDatabase, micro, openTemp, request, unitUsage } from './fixtures/ledger-setup';

const DAY = 24 * HOUR;
const CREDIT = 1_000_000;

const temps: TempLedger[] = [];
const others: Ledger[] = [];
afterEach(() => {
  for (const ledger of others.splice(0)) ledger.close();
  for (const t of temps.splice(0)) t.cleanup();
});

function temp(plan = 'free', autoUse = true): TempLedger {
  const t = openTemp({ initialPlan: plan, initialAutoUseCredits: autoUse });
  temps.push(t);
  return t;
}

/** Another process on the same file and machine: its own ledger, the same wall and monotonic clocks. */
function otherProcess(t: TempLedger): Ledger {
  const ledger = t.reopenAlongside();
  others.push(ledger);
  return ledger;
}

function expireEvents(path: string): { grant_id: number; ts: number; amount: number }[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare("SELECT grant_id, ts, amount FROM credit_events WHERE kind = 'expire' ORDER BY id").all() as never;
  } finally {
    db.close();
  }
}

describe('TrustedClock', () => {
  function clocks(): { wall: { now: number }; mono: { now: number; domain: string }; clock: TrustedClock } {
    const wall = { now: T0 };
    const mono = { now: 5_000, domain: 'boot-a' };
    const monotonic: MonotonicClock = {
      now: () => mono.now,
      get domain() {
        return mono.domain;
      },
    };
    return { wall, mono, clock: new TrustedClock(() => wall.now, monotonic) };
  }

  it('takes the wall clock while it agrees with the monotonic clock', () => {
    const { wall, mono, clock } = clocks();
    expect(clock.read(null)).toEqual({ now: T0, measured: T0, certain: T0 });
    wall.now += HOUR;
    mono.now += HOUR;
    expect(clock.read(null)).toEqual({ now: T0 + HOUR, measured: T0 + HOUR, certain: T0 + HOUR });
    // A small step ahead (NTP) moves windows at once, expiry once it has held for CONFIRM_AHEAD_MS.
    wall.now += 1_500;
    expect(clock.read(null)).toEqual({ now: T0 + HOUR + 1_500, measured: T0 + HOUR, certain: T0 + HOUR });
    wall.now += CONFIRM_AHEAD_MS + WALL_CLOCK_TOLERANCE_MS / 2; // reading jitter within the tolerance: the same offset
    mono.now += CONFIRM_AHEAD_MS;
    expect(clock.read(null).certain).toBe(wall.now);
  });

  it('keeps measuring time when the wall clock is set back: windows on the measured time, expiry on the wall', () => {
    const { wall, mono, clock } = clocks();
    clock.read(null);
    wall.now -= DAY;
    mono.now += HOUR;
    wall.now += HOUR;
    expect(clock.read(null)).toEqual({ now: T0 + HOUR, measured: T0 + HOUR, certain: T0 + HOUR - DAY });
  });

  it('lets windows follow a wall clock ahead at once, expiry only once it has stayed ahead for CONFIRM_AHEAD_MS', () => {
    const { wall, mono, clock } = clocks();
    clock.read(null);
    wall.now += 3 * DAY;
    expect(clock.read(null)).toEqual({ now: T0 + 3 * DAY, measured: T0, certain: T0 });
    mono.now += CONFIRM_AHEAD_MS - 1;
    wall.now += CONFIRM_AHEAD_MS - 1;
    expect(clock.read(null).certain).toBe(T0 + CONFIRM_AHEAD_MS - 1);
    mono.now += 1;
    wall.now += 1;
    expect(clock.read(null)).toEqual({ now: wall.now, measured: wall.now, certain: wall.now });
  });

  it('never believes a jump put right before CONFIRM_AHEAD_MS, nor one that changes meanwhile', () => {
    const { wall, mono, clock } = clocks();
    clock.read(null);
    wall.now += 3 * DAY;
    clock.read(null);
    mono.now += CONFIRM_AHEAD_MS / 2;
    wall.now += CONFIRM_AHEAD_MS / 2 + DAY; // jumped again: the watch starts over
    clock.read(null);
    mono.now += CONFIRM_AHEAD_MS / 2;
    wall.now = T0 + CONFIRM_AHEAD_MS; // put right
    const right = T0 + CONFIRM_AHEAD_MS;
    expect(clock.read(null)).toEqual({ now: right, measured: right, certain: right });
  });

  it("measures from another process's mark on the same boot, not across a reboot", () => {
    const { wall, clock } = clocks();
    const stored: TimeMark = { time: T0, mono: 1_000, domain: 'boot-a' };
    // 4 s of monotonic time since that mark: the floor is T0 + 4 s, and a wall clock a day behind is clamped.
    wall.now = T0 - DAY;
    expect(clock.read(stored).now).toBe(T0 + 4_000);
    // A mark from another boot tells only that the time is past it.
    const fresh = clocks();
    fresh.wall.now = T0 - DAY;
    expect(fresh.clock.read({ ...stored, domain: 'boot-b' }).now).toBe(T0);
  });

  it('stores a mark only when it says more than the stored one', () => {
    const stored: TimeMark = { time: T0, mono: 1_000, domain: 'a' };
    expect(markWorthStoring({ time: T0 + 60_000, mono: 61_000, domain: 'a' }, stored)).toBe(false); // the projection
    expect(markWorthStoring({ time: T0 + 62_000, mono: 61_000, domain: 'a' }, stored)).toBe(true); // later than it
    expect(markWorthStoring({ time: T0, mono: 5, domain: 'b' }, stored)).toBe(true); // another boot
    expect(markWorthStoring({ time: T0, mono: 5, domain: 'a' }, null)).toBe(true);
  });

  it('reads the system monotonic clock in the whole ms hrtime.bigint gives, never going back', () => {
    let last = -Infinity;
    for (let i = 0; i < 2_000; i++) {
      const before = Number(process.hrtime.bigint() / 1_000_000n);
      const reading = systemMonotonicClock.now();
      const after = Number(process.hrtime.bigint() / 1_000_000n);
      expect(Number.isInteger(reading)).toBe(true);
      expect(reading).toBeGreaterThanOrEqual(Math.max(before, last));
      expect(reading).toBeLessThanOrEqual(after);
      last = reading;
    }
  });

  it('reads a stored mark back whole, with this boot named by the clock\'s own string', () => {
    const domain = systemMonotonicClock.domain;
    const copy = [...domain].join(''); // equal, but another string, as a row read back gives
    expect(storedMark(T0, 5, copy)).toEqual({ time: T0, mono: 5, domain });
    expect(storedMark(T0, 5, 'another boot')).toEqual({ time: T0, mono: 5, domain: 'another boot' });
    expect([storedMark(null, 5, domain), storedMark(T0, null, domain), storedMark(T0, 5, null)]).toEqual([null, null, null]);
  });
});

describe('a wall clock 3 days ahead', () => {
  it('writes off nothing early, from a status, a write or another process; the grant expires when its time really comes', () => {
    const t = temp();
    t.ledger.addCredits({ amount: 40 * CREDIT, idempotencyKey: 'promo', source: 'promo', expiresAt: T0 + 2 * DAY });
    t.ledger.addCredits({ amount: 10 * CREDIT, idempotencyKey: 'forever', source: 'purchase' });
    t.clock.advance(HOUR);
    t.clock.jump(3 * DAY);

    // `creditgate status` is another process: it starts, reads and exits.
    const cli = otherProcess(t);
    expect(micro(cli.status().credits.balance)).toBe(50 * CREDIT);
    cli.close();
    expect(micro(t.ledger.status().credits.balance)).toBe(50 * CREDIT);
    // Writes in the gateway and in another process book nothing either.
    const hold = t.ledger.admit(request(100));
    if (!hold.admitted) throw new Error('blocked');
    t.ledger.post(hold.holdId, { usage: unitUsage(100) });
    otherProcess(t).setAutoUseCredits(true);
    expect(expireEvents(t.path)).toEqual([]);
    expect(micro(t.ledger.status().credits.balance)).toBe(50 * CREDIT - 100);

    // Put right ten minutes later; real time goes on to just before the expiry, then to it.
    t.clock.advance(10 * 60_000);
    t.clock.jump(-3 * DAY);
    t.clock.now = T0 + 2 * DAY - 1;
    t.ledger.setAutoUseCredits(true);
    expect(expireEvents(t.path)).toEqual([]);
    t.clock.advance(1);
    expect(micro(t.ledger.status().credits.balance)).toBe(10 * CREDIT); // shown at once (the promo was spent first)...
    t.ledger.setAutoUseCredits(true);
    expect(expireEvents(t.path)).toEqual([{ grant_id: 1, ts: T0 + 2 * DAY, amount: 40 * CREDIT - 100 }]); // ...booked by the next write
    const audit = auditDatabase(t.path);
    expect(audit.balance).toBe(audit.balanceFromRows);
  });

  it('keeps a window it opened for its real length only, once the clock is put right', () => {
    const t = temp('tiny', false);
    t.clock.jump(3 * DAY);
    const a = t.ledger.admit(request(1));
    if (!a.admitted) throw new Error('blocked');
    t.ledger.post(a.holdId, { usage: unitUsage(1_000) }); // the 5h allowance used up, in a window opened 3 days ahead
    const blocked = t.ledger.admit(request(1));
    expect(blocked).toMatchObject({ admitted: false, retryAt: T0 + 3 * DAY + FIVE_HOURS }); // on the clock of the moment
    t.clock.advance(HOUR);
    t.clock.jump(-3 * DAY);
    // By the wall clock of its opening it would end in 3 days and 4 hours; by the monotonic clock, in 4 hours.
    expect(t.ledger.admit(request(1))).toMatchObject({ admitted: false, retryAt: T0 + FIVE_HOURS });
    expect(t.ledger.status().windows[0]!.resetsAt).toBe(new Date(T0 + FIVE_HOURS).toISOString());
    t.clock.advance(4 * HOUR);
    expect(t.ledger.admit(request(1))).toMatchObject({ admitted: true, state: 'plan' });
    expect(t.ledger.status().windows[0]!.resetsAt).toBe(new Date(T0 + 2 * FIVE_HOURS).toISOString());
  });

  it('keeps both windows it opened for their real length in another process and after a reopen too', () => {
    const t = temp('tiny', false);
    t.clock.jump(3 * DAY);
    const a = t.ledger.admit(request(1));
    if (!a.admitted) throw new Error('blocked');
    t.ledger.post(a.holdId, { usage: unitUsage(1_000) }); // opens both windows, 3 days ahead
    const ends = (ledger: Ledger): (string | null)[] => ledger.status().windows.map((w) => w.resetsAt);
    const iso = (ms: number): string => new Date(ms).toISOString();
    expect(ends(t.ledger)).toEqual([iso(T0 + 3 * DAY + FIVE_HOURS), iso(T0 + 3 * DAY + WEEK)]);
    t.clock.advance(HOUR);
    t.clock.jump(-3 * DAY);
    // Only the stored row tells these the windows' measured start.
    const realEnds = [iso(T0 + FIVE_HOURS), iso(T0 + WEEK)];
    expect(ends(otherProcess(t))).toEqual(realEnds);
    expect(ends(t.reopen())).toEqual(realEnds);
  });

  it('is believed once it has stayed ahead for an hour (as after a suspend or a reboot the monotonic clock did not see)', () => {
    const t = temp();
    t.ledger.addCredits({ amount: 40 * CREDIT, idempotencyKey: 'promo', source: 'promo', expiresAt: T0 + 2 * DAY });
    t.clock.jump(3 * DAY);
    t.ledger.setAutoUseCredits(true);
    t.clock.advance(CONFIRM_AHEAD_MS);
    t.ledger.setAutoUseCredits(true);
    expect(expireEvents(t.path)).toEqual([{ grant_id: 1, ts: T0 + 2 * DAY, amount: 40 * CREDIT }]);
  });
});

describe('a wall clock a day behind', () => {
  /** A tiny plan, auto-use off: the 5h allowance used up at T0 blocks until T0 + 5h. */
  function blockedAtT0(): TempLedger {
    const t = temp('tiny', false);
    const a = t.ledger.admit(request(1));
    if (!a.admitted) throw new Error('blocked');
    t.ledger.post(a.holdId, { usage: unitUsage(1_000) });
    return t;
  }

  it('does not keep a blocked user blocked past the real window, in this process or another', () => {
    const t = blockedAtT0();
    t.clock.advance(HOUR);
    t.clock.jump(-DAY);
    const blocked = t.ledger.admit(request(1));
    expect(blocked).toMatchObject({ admitted: false, reason: 'allowance_exhausted', retryAt: T0 + FIVE_HOURS });
    // Retry-After is counted on the ledger's time: 4 hours, not a day and 4 hours.
    expect(T0 + FIVE_HOURS - t.ledger.now()).toBe(4 * HOUR);
    expect(otherProcess(t).admit(request(1)).admitted).toBe(false);

    t.clock.advance(4 * HOUR); // real T0 + 5h; the wall clock says a day earlier
    expect(t.ledger.admit(request(1))).toMatchObject({ admitted: true, state: 'plan' });
    expect(otherProcess(t).status().windows[0]!.used).toBe(0);
  });

  it('never writes off a grant early either, and books it when the wall clock reaches it too', () => {
    const t = temp();
    t.ledger.addCredits({ amount: 5 * CREDIT, idempotencyKey: 'promo', source: 'promo', expiresAt: T0 + DAY });
    t.clock.jump(-DAY);
    t.clock.advance(DAY);
    t.ledger.setAutoUseCredits(true);
    expect(expireEvents(t.path)).toEqual([]); // the wall clock says T0: both clocks must agree
    t.clock.jump(DAY);
    t.ledger.setAutoUseCredits(true);
    expect(expireEvents(t.path)).toHaveLength(1);
  });
});

describe('a reboot', () => {
  it('follows the wall clock for windows at once and believes it for expiry after an hour', () => {
    const t = temp('tiny', false);
    t.ledger.addCredits({ amount: 5 * CREDIT, idempotencyKey: 'promo', source: 'promo', expiresAt: T0 + HOUR });
    const a = t.ledger.admit(request(1));
    if (!a.admitted) throw new Error('blocked');
    t.ledger.post(a.holdId, { usage: unitUsage(1_000) });
    t.ledger.close();
    t.clock.reboot(8 * HOUR);
    const ledger = t.reopen();
    expect(ledger.admit(request(1)).admitted).toBe(true); // the 5h window is over: 8 hours went by
    expect(expireEvents(t.path)).toEqual([]); // but those hours were not measured
    t.clock.advance(CONFIRM_AHEAD_MS);
    ledger.setAutoUseCredits(false);
    expect(expireEvents(t.path)).toHaveLength(1);
  });
});

/**
 * Real time only moves forward; the wall clock is off by any amount at any step, put right within
 * CONFIRM_AHEAD_MS (a wrong clock that stays longer is believed, by design); processes come and go,
 * the machine reboots. Whatever happens, no grant is written off before its real expiry, no status
 * hides an unexpired grant, and once the clock is right and an hour has been watched, every expired
 * grant is written off.
 */
describe('the time one process came to believe', () => {
  it('reaches processes started later through its next write, even one that changes nothing else (an admit)', () => {
    const t = temp();
    t.ledger.addCredits({ amount: 10 * CREDIT, idempotencyKey: 'forever', source: 'purchase' });
    t.ledger.close();
    t.clock.reboot(8 * HOUR);
    const gateway = t.reopen(); // measures from the mark of the last boot: the 8 hours are not believed yet
    t.clock.advance(CONFIRM_AHEAD_MS);
    expect(gateway.admit(request(1)).admitted).toBe(true); // believes them now, and stores that with the hold
    // A CLI started now measures from the stored mark: a promo due a minute later is written off on time.
    const cli = otherProcess(t);
    cli.addCredits({ amount: 5 * CREDIT, idempotencyKey: 'promo', source: 'promo', expiresAt: t.clock.now + 60_000 });
    t.clock.advance(60_000);
    expect(micro(cli.status().credits.balance)).toBe(10 * CREDIT);
  });
});

describe('random wall clocks (property)', () => {
  type Step =
    | { op: 'pass'; ms: number }
    | { op: 'jump'; ms: number }
    | { op: 'fix' }
    | { op: 'reboot'; ms: number }
    | { op: 'grant'; credits: number; expiresIn: number }
    | { op: 'spend'; micro: number; on: number }
    | { op: 'status'; on: number }
    | { op: 'write'; on: number };

  const on = fc.integer({ min: 0, max: 2 }); // 0, 1: long-running processes; 2: a fresh one (a CLI command)
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ op: fc.constant('pass' as const), ms: fc.integer({ min: 0, max: 3 * HOUR }) }),
    fc.record({ op: fc.constant('jump' as const), ms: fc.oneof(fc.integer({ min: -5 * DAY, max: 5 * DAY }), fc.constantFrom(3 * DAY, -DAY, 1_500, -1_500)) }),
    fc.record({ op: fc.constant('fix' as const) }),
    fc.record({ op: fc.constant('reboot' as const), ms: fc.integer({ min: 0, max: 2 * DAY }) }),
    fc.record({ op: fc.constant('grant' as const), credits: fc.integer({ min: 1, max: 50 }), expiresIn: fc.integer({ min: 1, max: 3 * DAY }) }),
    fc.record({ op: fc.constant('spend' as const), micro: fc.integer({ min: 1, max: 3 * CREDIT }), on }),
    fc.record({ op: fc.constant('status' as const), on }),
    fc.record({ op: fc.constant('write' as const), on }),
  );

  it('never loses an unexpired grant, and writes off every expired one once the clock is right', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), (steps) => {
        const t = openTemp({ initialPlan: 'free' });
        const clock = t.clock;
        let real = clock.now;
        let offsetSince: number | null = null; // real time the wall clock went wrong
        const processes: Ledger[] = [t.ledger, t.reopenAlongside()];
        const processOn = (i: number): { ledger: Ledger; done: () => void } =>
          i < 2 ? { ledger: processes[i]!, done: () => undefined } : ((l) => ({ ledger: l, done: () => l.close() }))(t.reopenAlongside());
        const fix = (): void => {
          clock.jump(real - clock.now);
          offsetSince = null;
        };
        const db = new Database(t.path, { readonly: true });
        const grants = db.prepare<[], { id: number; expires_at: number | null; remaining: number; spent_at: number | null }>(
          'SELECT id, expires_at, remaining, spent_at FROM grants',
        );
        const expired = db.prepare<[], { grant_id: number }>("SELECT grant_id FROM credit_events WHERE kind = 'expire'");
        const check = (): void => {
          const byId = new Map(grants.all().map((g) => [g.id, g]));
          for (const { grant_id } of expired.all()) expect(byId.get(grant_id)!.expires_at!).toBeLessThanOrEqual(real);
        };
        try {
          for (const s of steps) {
            switch (s.op) {
              case 'pass':
                // A wrong clock is put right within the hour: one that stays wrong longer is believed.
                if (offsetSince !== null && real + s.ms - offsetSince >= CONFIRM_AHEAD_MS) fix();
                clock.advance(s.ms);
                real += s.ms;
                break;
              case 'jump':
                clock.jump(s.ms);
                if (clock.now === real) offsetSince = null;
                else offsetSince ??= real;
                break;
              case 'fix':
                fix();
                break;
              case 'reboot':
                if (offsetSince !== null && real + s.ms - offsetSince >= CONFIRM_AHEAD_MS) fix();
                for (const p of processes) p.close();
                clock.reboot(s.ms);
                real += s.ms;
                processes.splice(0, 2, t.reopenAlongside(), t.reopenAlongside());
                break;
              case 'grant':
                try {
                  processes[0]!.addCredits({ amount: s.credits * CREDIT, idempotencyKey: `g${Math.random()}`, source: 'promo', expiresAt: real + s.expiresIn });
                } catch (error) {
                  // A clock ahead can make the expiry look past already: refused, nothing added.
                  expect(error).toMatchObject({ code: 'invalid_argument' });
                }
                break;
              case 'spend': {
                const { ledger, done } = processOn(s.on);
                const a = ledger.admit(request(1));
                if (a.admitted) ledger.post(a.holdId, { usage: unitUsage(s.micro) });
                done();
                break;
              }
              case 'status': {
                const { ledger, done } = processOn(s.on);
                const shown = micro(ledger.status().credits.balance);
                done();
                // What a status leaves out is at most what has really expired.
                const audit = auditDatabase(t.path);
                const reallyExpired = grants.all().filter((g) => g.spent_at === null && g.expires_at !== null && g.expires_at <= real);
                expect(shown).toBeGreaterThanOrEqual(audit.balance - reallyExpired.reduce((sum, g) => sum + g.remaining, 0));
                break;
              }
              case 'write': {
                const { ledger, done } = processOn(s.on);
                ledger.setAutoUseCredits(true);
                done();
                break;
              }
            }
            check();
            const audit = auditDatabase(t.path);
            expect(audit.balance).toBe(audit.balanceFromRows);
          }
          // The clock put right and watched for an hour: every grant expired by then is written off.
          fix();
          processes[0]!.setAutoUseCredits(true);
          clock.advance(CONFIRM_AHEAD_MS);
          real += CONFIRM_AHEAD_MS;
          processes[0]!.setAutoUseCredits(true);
          check();
          const left = grants.all().filter((g) => g.spent_at === null && g.expires_at !== null && g.expires_at <= real);
          expect(left).toEqual([]);
        } finally {
          db.close();
          for (const p of processes) if (p !== t.ledger) p.close();
          t.cleanup();
        }
      }),
      { numRuns: 150 },
    );
  });

  // Not across a reboot: with no monotonic reading from before it, a wall clock set back is all the ledger has.
  it('never keeps a window open past its real length', () => {
    const length = { '5h': FIVE_HOURS, weekly: WEEK } as const;
    // The margin a period's start may lie ahead (processes disagree by seconds; ledger.ts FUTURE_START_MARGIN_MS).
    const margin = 60_000;
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), (steps) => {
        const t = openTemp({ initialPlan: 'tiny', initialAutoUseCredits: false });
        const clock = t.clock;
        let real = clock.now;
        const opened = new Map<string, { resetsAt: string; realStart: number }>();
        let ledger = t.ledger;
        try {
          for (const s of steps) {
            if (s.op === 'pass') {
              clock.advance(s.ms);
              real += s.ms;
            } else if (s.op === 'jump') clock.jump(s.ms);
            else if (s.op === 'fix') clock.jump(real - clock.now);
            else if (s.op === 'reboot') {
              ledger.close();
              clock.advance(s.ms); // a restart of the process alone
              real += s.ms;
              ledger = t.reopen();
            } else {
              const a = ledger.admit(request(1));
              if (a.admitted) ledger.post(a.holdId, { usage: unitUsage(s.op === 'spend' ? s.micro % 700 : 100) });
            }
            for (const w of ledger.status().windows) {
              if (w.resetsAt === null) continue;
              const known = opened.get(w.name);
              if (known?.resetsAt !== w.resetsAt) opened.set(w.name, { resetsAt: w.resetsAt, realStart: real });
              // Live now: it must have started less than its length ago, in real time.
              expect(real).toBeLessThan(opened.get(w.name)!.realStart + length[w.name] + margin);
            }
          }
        } finally {
          t.cleanup();
        }
      }),
      { numRuns: 150 },
    );
  });
});
