/**
 * An in-memory view of the newest usage rows, so the hot path never scans: the last charge, the burn
 * rate (plan credits posted in the last hour, a sliding window of one-second buckets), and each model's recent output sizes
 * for the estimator. It is fed with the rows added since it last looked, by any process (usage ids
 * only grow), and re-seeded from the database if it may have seen a row that was rolled back.
 */
import type { Micro } from '../../shared/money';
import type { UsageTailRow } from './rows';

export const BURN_WINDOW_MS = 60 * 60_000;
/** Output sizes kept per model; the estimator asks for a percentile of a few hundred at most. */
export const OUTPUT_SAMPLE_CAP = 500;
/** Unpriced models remembered for the status (newest kept): enough to name every one a user tries. */
export const UNPRICED_MODELS_CAP = 20;

const NONE: readonly string[] = [];

/**
 * Where a fresh instance starts reading rows for the burn window at `now`: the first millisecond of the
 * oldest second still in it (see planBurnLastHour), so a seeded window sums what a live one does.
 */
export function burnWindowStart(now: number): number {
  return Math.floor((now - BURN_WINDOW_MS + 1) / 1000) * 1000;
}

/** Plan micro-credits posted in one second (unix seconds) of the burn window. */
export interface BurnSecond {
  second: number;
  planCost: Micro;
}

export class RecentUsage {
  private lastSeenId = 0;
  private last: UsageTailRow | null = null;
  // The last hour's plan costs summed per second of their timestamp, as parallel arrays with a moving
  // head: at most BURN_WINDOW_MS / 1000 buckets whatever the request rate (one number per row grew
  // to 100+ MB over an hour at a few thousand requests a second).
  private burnSecond: number[] = [];
  private burnCost: Micro[] = [];
  private burnHead = 0;
  private burnSum: Micro = 0;
  private readonly outputs = new Map<string, number[]>();
  private readonly unpriced = new Set<string>();

  /**
   * Starts afresh from `newest` (the latest rows, oldest first: last charge and output samples) and
   * `lastHour` (the last hour's plan costs per second, oldest first: the burn rate).
   */
  seed(newest: readonly UsageTailRow[], lastHour: readonly BurnSecond[]): void {
    this.last = newest.at(-1) ?? null;
    this.lastSeenId = this.last?.id ?? 0;
    this.burnSecond = [];
    this.burnCost = [];
    this.burnHead = 0;
    this.burnSum = 0;
    this.outputs.clear();
    this.unpriced.clear();
    for (const row of newest) {
      this.addOutput(row);
      this.addUnpriced(row);
    }
    for (const { second, planCost } of lastHour) {
      this.burnSecond.push(second);
      this.burnCost.push(planCost);
      this.burnSum += planCost;
    }
  }

  /** Folds in rows newer than `lastId`, oldest first. */
  absorb(rows: readonly UsageTailRow[]): void {
    for (const row of rows) {
      if (row.id <= this.lastSeenId) continue;
      this.addBurn(row);
      this.addOutput(row);
      this.addUnpriced(row);
      this.last = row;
      this.lastSeenId = row.id;
    }
  }

  get lastId(): number {
    return this.lastSeenId;
  }

  lastCharge(): UsageTailRow | null {
    return this.last;
  }

  /**
   * Plan micro-credits posted in the hour before `now`. A second's bucket leaves the window once its
   * last millisecond has: a row counts for up to a second longer than the hour, never shorter.
   */
  planBurnLastHour(now: number): Micro {
    const cutoff = now - BURN_WINDOW_MS;
    while (this.burnHead < this.burnSecond.length && this.burnSecond[this.burnHead]! * 1000 + 999 <= cutoff) {
      this.burnSum -= this.burnCost[this.burnHead]!;
      this.burnHead++;
    }
    if (this.burnHead > 1_024 && this.burnHead * 2 > this.burnSecond.length) {
      this.burnSecond = this.burnSecond.slice(this.burnHead);
      this.burnCost = this.burnCost.slice(this.burnHead);
      this.burnHead = 0;
    }
    return this.burnSum;
  }

  /** Output tokens of the model's newest measured (non-estimated) rows, newest first. */
  recentOutputs(model: string, limit: number): number[] {
    const sample = this.outputs.get(model);
    if (!sample) return [];
    return sample.slice(Math.max(0, sample.length - limit)).reverse();
  }

  /** Models recently billed at the card's default price because the card does not list them, oldest first. */
  unpricedModels(): readonly string[] {
    // The status is built on every admit and post: no array while there is nothing to say.
    return this.unpriced.size === 0 ? NONE : [...this.unpriced];
  }

  private addUnpriced(row: UsageTailRow): void {
    if (!row.unpriced) return;
    this.unpriced.delete(row.model); // re-inserted as the newest
    this.unpriced.add(row.model);
    if (this.unpriced.size > UNPRICED_MODELS_CAP) this.unpriced.delete(this.unpriced.values().next().value!);
  }

  private addBurn(row: UsageTailRow): void {
    if (row.planCost === 0) return;
    this.burnSum += row.planCost;
    const second = Math.floor(row.ts / 1000);
    const last = this.burnSecond.length - 1;
    // Rows arrive in id order, which another process's clock may not follow exactly: an older row
    // joins the newest bucket and so stays in the window a little longer.
    if (last >= this.burnHead && this.burnSecond[last]! >= second) {
      this.burnCost[last] = this.burnCost[last]! + row.planCost;
      return;
    }
    this.burnSecond.push(second);
    this.burnCost.push(row.planCost);
  }

  private addOutput(row: UsageTailRow): void {
    if (row.estimated) return; // estimates of estimates would drift
    let sample = this.outputs.get(row.model);
    if (!sample) this.outputs.set(row.model, (sample = []));
    sample.push(row.outputTokens);
    if (sample.length > OUTPUT_SAMPLE_CAP * 2) sample.splice(0, sample.length - OUTPUT_SAMPLE_CAP);
  }
}
