/**
 * Fires when a source stays silent too long. Each sign of life restarts the count (a timer refresh,
 * cheap enough for every chunk of a stream); `watch` starts a new count with another limit.
 */
export class SilenceTimer {
  private timer: NodeJS.Timeout | null = null;
  private limitMs = 0;
  private paused = false;

  constructor(private readonly onSilence: (limitMs: number) => void) {}

  /** Starts counting from now; `limitMs` of silence fires the callback, once. */
  watch(limitMs: number): void {
    this.stop();
    this.limitMs = limitMs;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.onSilence(limitMs);
    }, limitMs);
  }

  /** The source spoke: the count starts again. */
  heard(): void {
    this.timer?.refresh();
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
}
