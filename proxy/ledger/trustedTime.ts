/**
 * What time it is for the ledger when the wall clock can jump (a user setting it, a VM resuming, NTP
 * stepping it). A jump must never write off credits before their time, nor keep a user blocked longer
 * than a real window. Durations are what the monotonic clock measures; the wall clock is believed
 * where it agrees with them.
 *
 * The account row keeps a mark: the latest trusted time any process recorded, with the system's
 * monotonic clock then. A process projects it to "at least this late now" (the measured time: the mark
 * plus the monotonic time elapsed since, which the wall clock matches while nobody sets it). Then:
 *   - a wall clock behind the measured time was set back: the ledger keeps the measured time, so
 *     windows and retry-at never stretch;
 *   - a wall clock ahead of it is a jump, or time the monotonic clock did not see (a suspend, a
 *     reboot). Windows follow it at once (they end early, never late); expiry waits until the same
 *     offset has held for CONFIRM_AHEAD_MS of this process's monotonic time, and then believes it.
 * Three times come out: `now` (row timestamps, window ends: the later of the two clocks), `measured`
 * (window lengths) and `certain` (expiry: the earlier). A grant is written off only once both clocks
 * say its time has come; a window is over when either says so.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';

/** The system's monotonic clock in ms, and which boot its readings count from. */
export interface MonotonicClock {
  now(): number;
  /** Readings of different domains (boots) cannot be subtracted. */
  readonly domain: string;
}

/** A trusted time and the monotonic reading taken with it. */
export interface TimeMark {
  time: number;
  mono: number;
  domain: string;
}

export interface LedgerTime {
  /** Windows, retry-at and row timestamps: the wall clock, or the measured time when the clock is behind it. */
  now: number;
  /** The time measured with the monotonic clock from the latest trusted reading (windows' lengths). */
  measured: number;
  /** Grant expiry: a time the wall clock and the measured time have both reached. */
  certain: number;
}

/** Offsets of the wall clock that differ by less than this are one and the same (reading jitter, NTP slewing). */
export const WALL_CLOCK_TOLERANCE_MS = 2_000;

/**
 * How long a wall clock ahead of the measured time must stay there before expiry believes it. A jump
 * corrected within this never writes anything off early; a clock that stays wrong this long is
 * indistinguishable from a suspend or a reboot the monotonic clock did not see, and is believed.
 */
export const CONFIRM_AHEAD_MS = 60 * 60_000;

/** A mark is stored again once it is this far past what the stored one projects to. */
const STORE_AFTER_MS = 1_000;

export class TrustedClock {
  private mark: TimeMark | null = null;
  /** A wall clock ahead of the measured time, by `offset`, first seen at monotonic `since`. */
  private ahead: { offset: number; since: number } | null = null;

  constructor(
    private readonly wall: () => number,
    private readonly monotonic: MonotonicClock,
  ) {}

  /** The time now, given the mark stored in the ledger (null: none yet, or not read). */
  read(stored: TimeMark | null): LedgerTime {
    const wall = this.wall();
    const mono = this.monotonic.now();
    const domain = this.monotonic.domain;
    const floor = Math.max(project(this.mark, mono, domain), project(stored, mono, domain));
    let measured: number;
    if (floor === -Infinity) {
      measured = wall; // nothing measured yet: a new ledger trusts its first reading
    } else if (wall <= floor) {
      measured = floor; // set back (or the same)
      this.ahead = null;
    } else {
      measured = this.confirmedAhead(wall - floor, mono) ? wall : floor;
    }
    this.mark = { time: measured, mono, domain };
    return { now: Math.max(wall, measured), measured, certain: Math.min(wall, measured) };
  }

  /** The mark of the latest read, to store when worth it (markWorthStoring). */
  get latest(): TimeMark | null {
    return this.mark;
  }

  private confirmedAhead(offset: number, mono: number): boolean {
    if (this.ahead === null || Math.abs(offset - this.ahead.offset) > WALL_CLOCK_TOLERANCE_MS) {
      this.ahead = { offset, since: mono };
      return false;
    }
    if (mono - this.ahead.since < CONFIRM_AHEAD_MS) return false;
    this.ahead = null;
    return true;
  }
}

/** The earliest the time can be now, from a mark: its time plus the monotonic time elapsed since. */
function project(mark: TimeMark | null, mono: number, domain: string): number {
  if (mark === null) return -Infinity;
  // Another boot (or a clock that went back, which only a reboot does): nothing known about the time between.
  const elapsed = mark.domain === domain && mono >= mark.mono ? mono - mark.mono : 0;
  return mark.time + elapsed;
}

/**
 * Whether `mark` should replace the stored one: other processes measure from the stored mark, so it is
 * written when this one knows a later time than it projects to, or counts from another boot. Otherwise
 * the stored one is as good, and the account row is not rewritten for it.
 */
export function markWorthStoring(mark: TimeMark, stored: TimeMark | null): boolean {
  if (stored === null || stored.domain !== mark.domain) return true;
  return mark.time - project(stored, mark.mono, mark.domain) > STORE_AFTER_MS;
}

/**
 * process.hrtime counts from an arbitrary point that, on Linux, macOS and Windows, is the same for every
 * process of one boot (CLOCK_MONOTONIC, mach_absolute_time, QueryPerformanceCounter): a reading another
 * process stored can be subtracted from ours when both come from the same boot.
 */
export const systemMonotonicClock: MonotonicClock = {
  // The same whole ms as Number(process.hrtime.bigint() / 1_000_000n), without two BigInts per reading.
  now: () => {
    const [seconds, nanos] = process.hrtime();
    return seconds * 1_000 + Math.floor(nanos / 1_000_000);
  },
  domain: bootDomain(),
};

/**
 * The mark a ledger row records, or null before the first. This boot's domain comes back as the very
 * string the clock holds, so that the comparison each reading makes is a pointer check rather than
 * one of 64 characters.
 */
export function storedMark(time: number | null, mono: number | null, domain: string | null): TimeMark | null {
  if (time === null || mono === null || domain === null) return null;
  return { time, mono, domain: domain === systemMonotonicClock.domain ? systemMonotonicClock.domain : domain };
}

/**
 * This boot's identity: Linux names it; elsewhere the host and the boot time to the minute stand in
 * (computed from the wall clock, so a jump changes it: readings then count as another boot's, which
 * only makes the ledger more cautious). Hashed: the host name has no business in the ledger.
 */
function bootDomain(): string {
  let id: string;
  try {
    id = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    id = `${os.hostname()} ${Math.round((Date.now() / 1000 - os.uptime()) / 60)}`;
  }
  return createHash('sha256').update(id).digest('hex').slice(0, 16);
}
