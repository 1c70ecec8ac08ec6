/**
 * Fires when a source stays silent too long. A sign of life only notes the time; the timer, when it
 * comes due, checks how long the silence has really lasted and waits on for the rest. Refreshing the
 * timer on every chunk instead re-inserted it into Node's timer list each time: under 32 streams that
 * was the gateway's largest cost of its own (bench responses --cpu-prof). `watch` starts a new count
 * with another limit.
 */
export class SilenceTimer {
  private timer: NodeJS.Timeout | null = null;
  /** When the armed timer comes due (performance.now() ms). */
  private dueAt = 0;
  private limitMs = 0;
  private heardAt = 0;
  private paused = false;

  /**
   * `longestWaitMs`: the timer is never armed for longer; a check that finds the limit not reached
   * waits on. An exchange passes its shortest limit, so that the next `watch` (the answer began)
   * finds a timer due in time instead of re-arming one: a timer set and cleared twice per request
   * was ~3 % of the gateway's CPU at one connection (bench c1, in-process --cpu-prof).
   */
  constructor(
    private readonly onSilence: (limitMs: number) => void,
    private readonly longestWaitMs = Infinity,
  ) {}

  /** Starts counting from now; `limitMs` of silence fires the callback, once. */
  watch(limitMs: number): void {
    this.paused = false;
    this.limitMs = limitMs;
    this.heardAt = performance.now();
    // A timer already due by the new limit's end checks then and waits on for the rest.
    if (this.timer !== null && this.dueAt <= this.heardAt + limitMs) return;
    this.arm(Math.min(limitMs, this.longestWaitMs));
  }

  /** The source spoke: the count starts again. */
  heard(): void {
    this.heardAt = performance.now();
  }

  /** The source was paused by us (its reader is backed up): its silence is not its own until `resume`. */
  pause(): void {
    if (!this.timer) return;
    this.stop();
    this.paused = true;
  }

  resume(): void {
    if (this.paused) this.watch(this.limitMs);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.paused = false;
  }

  private arm(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.dueAt = performance.now() + ms;
    this.timer = setTimeout(this.due, ms);
  }

  private readonly due = (): void => {
    this.timer = null;
    const silentMs = performance.now() - this.heardAt;
    if (silentMs >= this.limitMs) this.onSilence(this.limitMs);
    else this.arm(Math.min(this.limitMs - silentMs, this.longestWaitMs));
  };
}
