/** Counts work in flight, so a stopping gateway can wait for it to finish, for a while. */
export class InFlight {
  private count = 0;
  private readonly idleWaiters = new Set<() => void>();

  get size(): number {
    return this.count;
  }

  begin(): void {
    this.count++;
  }

  end(): void {
    if (--this.count > 0) return;
    for (const wake of this.idleWaiters) wake();
    this.idleWaiters.clear();
  }

  /**
   * Resolves true once nothing is in flight, or false when `ms` pass first or `hurry` is aborted
   * (a second stop signal).
   */
  idleWithin(ms: number, hurry?: AbortSignal): Promise<boolean> {
    if (this.count <= 0) return Promise.resolve(true);
    if (ms <= 0 || hurry?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (idle: boolean): void => {
        clearTimeout(timer);
        this.idleWaiters.delete(onIdle);
        hurry?.removeEventListener('abort', onHurry);
        resolve(idle);
      };
      const onIdle = (): void => done(true);
      const onHurry = (): void => done(false);
      const timer = setTimeout(() => done(false), ms);
      this.idleWaiters.add(onIdle);
      hurry?.addEventListener('abort', onHurry, { once: true });
    });
  }
}
