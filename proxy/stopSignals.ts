/**
 * SIGINT and SIGTERM stop a gateway process gracefully. The first starts the stop (the requests in
 * flight get the grace period); a second ends the grace period at once; a third gives up and exits,
 * leaving what is still open for the next gateway to settle at its estimate. The process exits 0 once
 * the stop is done, 1 when it failed.
 */
import type { Logger } from './gateway/context';

export function stopOnSignals(stop: (hurry: AbortSignal) => Promise<void>, log: Logger): void {
  const hurry = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      log.info(`${signal}: stopping once the requests in flight finish (${signal} again to end them now)`);
      stop(hurry.signal).then(
        () => process.exit(0),
        (error: unknown) => {
          log.error(`stopping failed: ${(error as Error).message}`);
          process.exit(1);
        },
      );
    } else if (signals === 2) {
      log.warn(`${signal} again: ending the requests in flight now (a third signal exits at once)`);
      hurry.abort();
    } else {
      process.exit(1);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
