/**
 * The account as the editor's gateway process holds it. One process per VS Code window starts, but
 * only one gateway may listen per data directory, so this process is either
 * - the owner: it runs the gateway (serveGateway) and pushes the gateway's own status feed; or
 * - joined: another process (another window, `creditgate serve`) owns the port; this one opens the
 *   same SQLite ledger (WAL is safe across processes) to answer requests, follows changes through a
 *   StatusFeed on that ledger, watches the owner's /healthz and takes over when the owner goes away.
 */
import { GatewayRunningError } from '../gatewayLock';
import type { Logger } from '../gateway/context';
import type { StopOptions } from '../gateway/server';
import { StatusFeed } from '../gateway/statusFeed';
import type { UpstreamKeys } from '../gateway/upstream';
import type { Account, RunningGateway, RuntimeLocation } from '../runtime';
import { openAccount, serveGateway } from '../runtime';
import type { Status } from '../../shared/protocol';
import type { GatewayInfo } from '../../shared/rpc';
import { whoHoldsPort } from './healthProbe';

export interface AccountHostOptions {
  location: RuntimeLocation & { port?: number };
  env: NodeJS.ProcessEnv;
  log: Logger;
  keys: UpstreamKeys;
  /** How often a joined process checks that the owner is still there (measured: a takeover in about 2 s). */
  watchMs?: number;
}

/** The port is held by something that is not a Creditgate gateway for this data directory. */
export class PortTakenError extends Error {
  constructor(readonly port: number, owner: string) {
    super(`port ${port} is in use by ${owner}; choose another with the creditgate.port setting or CREDITGATE_PORT`);
  }
}

type Session =
  | { role: 'owner'; running: RunningGateway; feed: StatusFeed }
  | { role: 'joined'; account: Account; feed: StatusFeed; ownerPid: number | null; port: number };

export class AccountHost {
  private readonly statusListeners = new Set<(status: Status) => void>();
  private readonly infoListeners = new Set<(info: GatewayInfo) => void>();
  private unsubscribe: () => void = () => undefined;
  private watcher: NodeJS.Timeout | null = null;
  private checking = false;
  private closed = false;

  private constructor(
    private readonly options: AccountHostOptions,
    private session: Session,
  ) {
    this.follow(session);
  }

  static async start(options: AccountHostOptions): Promise<AccountHost> {
    const host = new AccountHost(options, await establish(options));
    host.watchIfJoined();
    return host;
  }

  get account(): Account {
    return this.session.role === 'owner' ? this.session.running.account : this.session.account;
  }

  get role(): GatewayInfo['role'] {
    return this.session.role;
  }

  info(): GatewayInfo {
    const s = this.session;
    const port = s.role === 'owner' ? s.running.gateway.port : s.port;
    return {
      role: s.role,
      port,
      url: `http://127.0.0.1:${port}`,
      dataDir: this.account.dataDir,
      ownerPid: s.role === 'owner' ? process.pid : s.ownerPid,
    };
  }

  /** The status computed now (not through the feed, so a push is never swallowed by a read). */
  status(): Status {
    return this.account.ledger.status();
  }

  /** Announces a change made through this process, so listeners (and the owner's SSE) hear of it. */
  changed(): void {
    this.session.feed.changed();
  }

  onStatus(listener: (status: Status) => void): void {
    this.statusListeners.add(listener);
  }

  onInfo(listener: (info: GatewayInfo) => void): void {
    this.infoListeners.add(listener);
  }

  /** Stops serving (gracefully, when this process owns the gateway) and closes the ledger. */
  async close(options?: StopOptions): Promise<void> {
    this.closed = true;
    if (this.watcher) clearInterval(this.watcher);
    this.unsubscribe();
    await closeSession(this.session, options);
  }

  private follow(session: Session): void {
    this.unsubscribe();
    this.unsubscribe = session.feed.subscribe((status) => {
      for (const listener of this.statusListeners) listener(status);
    });
  }

  private watchIfJoined(): void {
    if (this.session.role !== 'joined' || this.watcher) return;
    this.watcher = setInterval(() => void this.checkOwner(), this.options.watchMs ?? 2_000);
  }

  /** Joined: is the owner still serving? If not, try to become the owner. */
  private async checkOwner(): Promise<void> {
    const s = this.session;
    if (this.checking || this.closed || s.role !== 'joined') return;
    this.checking = true;
    try {
      const holder = await whoHoldsPort(s.port, s.account.dataDir);
      if (holder.kind === 'ours') {
        s.ownerPid = holder.owner.pid;
        return;
      }
      await this.takeOver(s);
    } finally {
      this.checking = false;
    }
  }

  private async takeOver(joined: Extract<Session, { role: 'joined' }>): Promise<void> {
    const { log } = this.options;
    let next: Session;
    try {
      next = await establish({ ...this.options, location: { ...this.options.location, port: joined.port } });
    } catch (error) {
      // The port is still held (an owner restarting, or someone else's); look again next time.
      log.warn(`could not take over the gateway on port ${joined.port}: ${(error as Error).message}`);
      return;
    }
    if (this.closed) {
      await closeSession(next);
      return;
    }
    if (next.role === 'joined') {
      // Another process won the race: keep following the account, now through the new owner.
      joined.ownerPid = next.ownerPid;
      joined.port = next.port;
      await closeSession(next);
      return;
    }
    log.info(`the gateway on port ${joined.port} went away; this window now serves ${next.running.gateway.url}`);
    this.session = next;
    this.follow(next);
    if (this.watcher) clearInterval(this.watcher);
    this.watcher = null;
    await closeSession(joined);
    const info = this.info();
    for (const listener of this.infoListeners) listener(info);
    const status = this.status();
    for (const listener of this.statusListeners) listener(status);
  }
}

/** Serves the gateway if this process can, else joins the gateway that holds the data directory. */
async function establish(options: AccountHostOptions): Promise<Session> {
  const { location, env, log, keys } = options;
  try {
    const running = await serveGateway(location, env, log, keys);
    log.info(`serving ${running.gateway.url} for ${running.account.dataDir}`);
    return { role: 'owner', running, feed: running.gateway.feed };
  } catch (error) {
    if (error instanceof GatewayRunningError) {
      const account = openAccount(location, env, log);
      const port = error.owner.port ?? location.port ?? account.config.port;
      log.info(`joined the gateway of pid ${error.owner.pid} on port ${port} for ${account.dataDir}`);
      return joined(account, error.owner.pid, port);
    }
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    const port = (error as { port?: number }).port ?? location.port;
    const account = openAccount(location, env, log);
    const busyPort = port ?? account.config.port;
    const holder = await whoHoldsPort(busyPort, account.dataDir);
    if (holder.kind !== 'ours') {
      account.ledger.close();
      throw new PortTakenError(busyPort, holder.kind === 'other_creditgate' ? 'the Creditgate gateway of another data directory' : 'another program');
    }
    log.info(`joined the gateway of pid ${holder.owner.pid} on port ${busyPort} for ${account.dataDir}`);
    return joined(account, holder.owner.pid, busyPort);
  }
}

function joined(account: Account, ownerPid: number | null, port: number): Session {
  return { role: 'joined', account, feed: new StatusFeed(account.ledger), ownerPid, port };
}

async function closeSession(session: Session, options?: StopOptions): Promise<void> {
  if (session.role === 'owner') {
    await session.running.stop(options);
  } else {
    session.feed.close();
    session.account.ledger.close();
  }
}
