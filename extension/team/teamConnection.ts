/**
 * The editor's live link to a team gateway (docs/product.md §8 "In the editor"): the status comes
 * from GET /creditgate/v1/events (the current status at once, then every change, server-sent), so the
 * status bar is pushed to as with a local gateway and never polls. A stream that breaks or never
 * opens is retried with a growing delay; a refused token stops the retries until a new one is given.
 * Free of `vscode` so that it is tested in plain Node.
 */
import type { Status } from '../../shared/protocol';
import { Signal } from './signal';
import { SseParser } from './sse';
import { parseStatus } from './statusSchema';
import { TeamGatewayError, TeamGatewayHttp } from './teamHttp';
import { TeamRequests } from './teamRequests';

export type TeamPhase = 'connecting' | 'connected' | 'unreachable' | 'unauthorized' | 'stopped';

export interface TeamLog {
  info(message: string): void;
  warn(message: string): void;
}

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

/** 1 s, 2 s, 4 s … up to 30 s: a gateway restarting is back within seconds, one that is down is not hammered. */
export const DEFAULT_BACKOFF: Backoff = { initialMs: 1_000, maxMs: 30_000 };

/** The gateway sends a keep-alive comment every 25 s: a stream silent for longer is dead (a dropped network). */
export const STREAM_SILENCE_MS = 75_000;

export function reconnectDelay(attempt: number, backoff: Backoff = DEFAULT_BACKOFF): number {
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt, 20));
}

export interface TeamConnectionOptions {
  /** The team gateway's base URL, e.g. https://creditgate.example.com. */
  url: string;
  token: string;
  log: TeamLog;
  backoff?: Backoff;
  silenceMs?: number;
}

export class TeamGatewayConnection {
  readonly requests: TeamRequests;
  private readonly http: TeamGatewayHttp;
  private readonly statusSignal = new Signal<Status>();
  private readonly phaseSignal = new Signal<TeamPhase>();
  private currentPhase: TeamPhase = 'stopped';
  private latest: Status | null = null;
  private problem: string | null = null;
  /** Aborts the open stream or the wait before the next attempt. */
  private abort: AbortController | null = null;
  private running = false;
  private loop: Promise<void> | null = null;

  readonly onStatus = this.statusSignal.event;
  readonly onPhase = this.phaseSignal.event;

  constructor(private readonly options: TeamConnectionOptions) {
    this.http = new TeamGatewayHttp(options.url, options.token);
    this.requests = new TeamRequests(this.http);
  }

  get url(): string {
    return this.http.baseUrl;
  }

  get phase(): TeamPhase {
    return this.currentPhase;
  }

  /** The last status while connected; null otherwise (never a stale figure). */
  get status(): Status | null {
    return this.latest;
  }

  /** Why the connection is not up (unreachable or unauthorized), for the status bar's tooltip. */
  get lastProblem(): string | null {
    return this.problem;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Ends the stream and the retries; resolves once the loop has stopped. */
  async stop(): Promise<void> {
    this.running = false;
    this.abort?.abort();
    await this.loop;
    this.loop = null;
    this.setPhase('stopped');
  }

  /** Shows a status returned by a change at once, without waiting for the stream's push. */
  publish(status: Status): void {
    this.latest = status;
    this.statusSignal.fire(status);
  }

  dispose(): void {
    void this.stop();
    this.statusSignal.dispose();
    this.phaseSignal.dispose();
  }

  private async run(): Promise<void> {
    let attempt = 0;
    this.setPhase('connecting');
    while (this.running) {
      try {
        await this.follow(() => (attempt = 0));
        if (!this.running) return;
        this.problem = `${this.url} ended the status stream (the gateway is stopping or restarting)`;
      } catch (error) {
        if (!this.running) return;
        if (error instanceof TeamGatewayError && error.failure === 'unauthorized') {
          this.problem = error.message;
          this.setPhase('unauthorized');
          this.running = false;
          return;
        }
        this.problem = (error as Error).message;
      }
      const delay = reconnectDelay(attempt++, this.options.backoff);
      this.options.log.warn(`team gateway: ${this.problem}; retrying in ${Math.round(delay / 1000)} s`);
      this.setPhase('unreachable');
      await this.wait(delay);
    }
  }

  /** Reads the event stream until it ends; `connected` runs on its first status. */
  private async follow(connected: () => void): Promise<void> {
    const abort = new AbortController();
    this.abort = abort;
    const silenceMs = this.options.silenceMs ?? STREAM_SILENCE_MS;
    let silence = setTimeout(() => abort.abort(), silenceMs);
    try {
      const body = await this.http.openEvents(abort.signal);
      const parser = new SseParser();
      const decoder = new TextDecoder();
      const reader = body.getReader();
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (error) {
          if (abort.signal.aborted && this.running) throw new TeamGatewayError('unreachable', `${this.url} sent nothing for ${Math.round(silenceMs / 1000)} s`);
          throw new TeamGatewayError('unreachable', `the status stream from ${this.url} broke (${(error as Error).message})`);
        }
        if (chunk.done) return;
        clearTimeout(silence);
        silence = setTimeout(() => abort.abort(), silenceMs);
        for (const event of parser.push(decoder.decode(chunk.value, { stream: true }))) {
          if (event.event !== 'status') continue;
          this.publish(parseStatus(JSON.parse(event.data)));
          if (this.currentPhase !== 'connected') {
            this.problem = null;
            connected();
            this.options.log.info(`team gateway: connected to ${this.url}`);
            this.setPhase('connected');
          }
        }
      }
    } finally {
      clearTimeout(silence);
      abort.abort();
    }
  }

  private wait(ms: number): Promise<void> {
    const abort = new AbortController();
    this.abort = abort;
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      abort.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private setPhase(phase: TeamPhase): void {
    if (phase !== 'connected') this.latest = null;
    if (phase === this.currentPhase) return;
    this.currentPhase = phase;
    this.phaseSignal.fire(phase);
  }
}
