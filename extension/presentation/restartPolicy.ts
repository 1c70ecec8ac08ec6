/**
 * When the gateway process dies, restart it, but not forever: at most `maxRestarts` within
 * `windowMs`, after which the extension stops and says so (the user can still Restart Gateway).
 * Pure, with the clock passed in.
 */
export interface RestartPolicyOptions {
  maxRestarts: number;
  windowMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicyOptions = { maxRestarts: 5, windowMs: 3 * 60_000 };

export class RestartPolicy {
  private crashes: number[] = [];

  constructor(private readonly options: RestartPolicyOptions = DEFAULT_RESTART_POLICY) {}

  /** Records a crash at `now`; true when the process should be restarted. */
  shouldRestart(now: number): boolean {
    this.crashes = this.crashes.filter((at) => now - at < this.options.windowMs);
    this.crashes.push(now);
    return this.crashes.length <= this.options.maxRestarts;
  }

  /** A deliberate (re)start by the user forgets earlier crashes. */
  reset(): void {
    this.crashes = [];
  }
}
