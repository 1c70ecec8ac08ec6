/**
 * Runs a task at most once per interval: a call within the interval of the last run is folded into
 * one trailing run at the interval's end. For refreshing the Usage panel on status pushes.
 */
export class Throttle {
  private lastRun = -Infinity;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly task: () => void,
    private readonly intervalMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  schedule(): void {
    if (this.timer) return;
    const wait = this.lastRun + this.intervalMs - this.clock();
    if (wait <= 0) {
      this.run();
      return;
    }
    this.timer = setTimeout(() => this.run(), wait);
  }

  /** Forgets a pending run. */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private run(): void {
    this.timer = null;
    this.lastRun = this.clock();
    this.task();
  }
}
