/**
 * The gateway's HTTP server: the front door (Host check, CORS refusal, token auth), then routing to
 * the health check, the gateway's own API, or a metered upstream exchange. It listens on loopback
 * unless told another address (team mode), and stops gracefully: requests in flight get a grace
 * period, the rest are ended and billed.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createProxyServer } from 'http-proxy';
import type { Micro } from '../../shared/money';
import type { RateCard } from '../../shared/rateCard';
import { apiFamilyForPath, routeFor } from '../dialects';
import type { AuthenticatedClient } from '../ledger/ledger';
import { Ledger } from '../ledger/ledger';
import { DEFAULT_SEAT } from '../ledger/seats';
import type { PostgresLedger } from '../ledger/postgres/postgresLedger';
import type { SettlementEvents } from '../ledger/settlements';
import { createLimitedServer, type ConnectionLimits, type GatewayServer } from './connectionLimits';
import type { AdmissionEstimator, GatewayContext, Logger, RequestUrl, UpstreamTimeouts } from './context';
import { failureAnswer } from './failures';
import type { GatewayLedger } from './gatewayLedger';
import { postgresGatewayLedger, sqliteGatewayLedger } from './gatewayLedger';
import { InFlight } from './inFlight';
import { KnownTokens } from './knownTokens';
import { exchanges, forwardUnmetered, handleMeteredRequest } from './meteredExchange';
import { OpenExchanges } from './openExchanges';
import { handleOwnApi } from './ownApi';
import type { Payments } from '../payments/service';
import { handlePurchaseRoute, handleTokenlessPaymentRoute, isPurchaseRoute, isTokenlessPaymentRoute } from './paymentsRoutes';
import { normaliseRequestPath } from './requestPath';
import { sendError, sendJson } from './respond';
import { acceptedHostNames, gatewayUrl, LOOPBACK_ADDRESS, type ListenAddress } from './listenAddress';
import { HostAllowList, isCorsPreflight, presentedToken } from './security';
import { StatusFeed } from './statusFeed';
import { Upstreams, type UpstreamEndpoints, type UpstreamKeys } from './upstream';

export interface GatewayOptions {
  /** The data directory's SQLite ledger, or a team's PostgreSQL ledger. */
  ledger: Ledger | PostgresLedger;
  rateCard: RateCard;
  endpoints: UpstreamEndpoints;
  keys: UpstreamKeys;
  estimator: AdmissionEstimator;
  maxBodyBytes: number;
  /** Micro-credits a request admitted on the last of the allowance or credits may cost beyond it. */
  overspendMargin: Micro;
  upstreamTimeouts: UpstreamTimeouts;
  connections: ConnectionLimits;
  /** Where to listen, which Host names to answer, and TLS (default: 127.0.0.1, plain HTTP). */
  address?: ListenAddress;
  /** How long close() lets requests in flight finish before it ends them. */
  shutdownGraceMs: number;
  log: Logger;
  /**
   * The only thing /healthz tells besides "alive": the lock file holds the same id, so a process that
   * can read the data directory learns whose gateway holds a port, and nobody else learns anything.
   */
  instanceId: string;
  /** A team gateway's Stripe purchases and webhook (proxy/payments); absent on the individual ledger. */
  payments?: Payments | null;
  clock?: () => number;
}

export interface StopOptions {
  /** Instead of the configured grace period (the editor's gateway has less time). */
  graceMs?: number;
  /** Aborting it ends the grace period at once (a second SIGINT or SIGTERM). */
  hurry?: AbortSignal;
}

/**
 * After the grace period: how long the answers just ended get to reach their clients, and then how
 * long an admission caught mid-write gets to void its hold, before the connections and the ledger close.
 */
const FINAL_FLUSH_MS = 1_000;

export class Gateway {
  readonly feed: StatusFeed;
  private readonly ledger: GatewayLedger;
  private readonly ctx: GatewayContext;
  private readonly server: GatewayServer;
  private readonly address: ListenAddress;
  private readonly hosts: HostAllowList;
  /** A status feed per seat of a team's ledger besides the default one, made when a member first listens. */
  private readonly seatFeeds = new Map<string, StatusFeed>();
  /** token → client name and role; forgotten on every database change (a token may have been revoked). */
  private readonly knownTokens: KnownTokens;
  /** Each request counts twice: until its response closes, and until its handler is done. */
  private readonly requests = new InFlight();
  private stopping: Promise<void> | null = null;

  private constructor(private readonly options: GatewayOptions) {
    const events: SettlementEvents = {
      landed: () => this.feed.changed(),
      failed: (holdId, error) => options.log.error(`could not settle hold ${holdId}: ${(error as Error).message}`),
      journalFailed: (holdId, error) =>
        options.log.error(`could not keep the charge of hold ${holdId} in the pending-charges journal (retrying in memory): ${(error as Error).message}`),
    };
    const ledger = options.ledger instanceof Ledger ? sqliteGatewayLedger(options.ledger, events) : postgresGatewayLedger(options.ledger, events);
    this.ledger = ledger;
    // The ledger's time: a wall clock set back does not stretch the Retry-After of a window (trustedTime.ts).
    const clock = options.clock ?? (() => ledger.now());
    this.feed = new StatusFeed(ledger.statusSource, clock);
    this.knownTokens = new KnownTokens((token) => ledger.authenticate(token));
    this.feed.onDataChange(() => this.knownTokens.forget());
    const proxy = createProxyServer({ xfwd: false });
    proxy.on('proxyReq', (proxyReq, req) => exchanges.get(req)?.onProxyReq(proxyReq));
    proxy.on('proxyRes', (proxyRes, req) => exchanges.get(req)?.onProxyRes(proxyRes));
    proxy.on('error', (error) => options.log.warn(`proxy: ${error.message}`));
    this.ctx = {
      ledger,
      book: ledger.book,
      settlements: ledger.settlements,
      feed: this.feed,
      payments: options.payments ?? null,
      proxy,
      upstreams: new Upstreams(options.endpoints),
      keys: options.keys,
      rateCard: options.rateCard,
      maxBodyBytes: options.maxBodyBytes,
      overspendMargin: options.overspendMargin,
      upstreamTimeouts: options.upstreamTimeouts,
      openExchanges: new OpenExchanges(),
      estimator: options.estimator,
      clock,
      log: options.log,
      feedFor: (seat) => this.feedFor(seat),
    };
    this.address = options.address ?? LOOPBACK_ADDRESS;
    this.hosts = new HostAllowList(acceptedHostNames(this.address));
    this.server = createLimitedServer(options.connections, this.address.tls, (req, res) => this.serve(req, res));
  }

  /** Starts listening on its address (127.0.0.1 by default); port 0 picks a free one (see `port`). */
  static async start(options: GatewayOptions, port: number): Promise<Gateway> {
    const gateway = new Gateway(options);
    try {
      await new Promise<void>((resolve, reject) => {
        gateway.server.once('error', reject);
        gateway.server.listen(port, gateway.address.host, () => {
          gateway.server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      // The feed polls the ledger, which the caller closes next: a poll after that crashed the process.
      gateway.feed.close();
      throw error;
    }
    return gateway;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return gatewayUrl(this.address, this.port);
  }

  get keys(): UpstreamKeys {
    return this.ctx.keys;
  }

  /**
   * Stops the gateway: it takes no new connection or request; the requests in flight get the grace
   * period to finish; those still running after it are ended and billed from what they streamed
   * (`gateway_stop`). Resolves once every charge is committed and every connection closed, so the
   * ledger can close next. Calling it again returns the same stop.
   */
  close(options: StopOptions = {}): Promise<void> {
    this.stopping ??= this.stop(options.graceMs ?? this.options.shutdownGraceMs, options.hurry);
    return this.stopping;
  }

  private async stop(graceMs: number, hurry: AbortSignal | undefined): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // The /events streams end with the feed: their readers learn that the gateway is going.
    this.feed.close();
    for (const feed of this.seatFeeds.values()) feed.close();
    this.server.closeIdleConnections();
    const open = this.ctx.openExchanges.size;
    if (open > 0) this.options.log.info(`stopping: ${open} request(s) in flight get up to ${graceMs} ms to finish`);
    if (!(await this.requests.idleWithin(graceMs, hurry))) {
      const ended = this.ctx.openExchanges.list().map((exchange) => exchange.endForStop());
      if (ended.length > 0) this.options.log.warn(`stopping: ended ${ended.length} request(s) still in flight, billed from what they streamed`);
      await Promise.all(ended);
      await this.requests.idleWithin(FINAL_FLUSH_MS);
      this.server.closeAllConnections();
      await this.requests.idleWithin(FINAL_FLUSH_MS);
    }
    // What is left holds no request: idle connections, or clients still sending one.
    this.server.closeAllConnections();
    // The last charges are written before the ledger can close; those the database still refuses
    // (another process holds it locked) stay in the pending-charges journal for the next start.
    await this.ctx.settlements.close();
    this.ctx.upstreams.close();
    await closed;
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.stopping) return this.refuseWhileStopping(req, res);
    this.requests.begin();
    this.requests.begin();
    res.once('close', () => {
      this.requests.end();
      // While stopping, a kept-alive connection whose response is done is closed, not left idle.
      if (this.stopping) this.server.closeIdleConnections();
    });
    this.route(req, res).then(
      () => this.requests.end(),
      (error: unknown) => {
        try {
          this.answerFailure(req, res, error);
        } finally {
          this.requests.end();
        }
      },
    );
  }

  /** A request on a kept-alive connection after the stop began: a 503 in its route's shape, and the connection closes. */
  private refuseWhileStopping(req: http.IncomingMessage, res: http.ServerResponse): void {
    const api = routeFor(req.method ?? 'GET', requestUrl(req.url ?? '/').pathname)?.api ?? null;
    const message = 'Creditgate is stopping and takes no new requests. Try again once it runs again.';
    sendError(res, api, 'gateway_stopping', message, { headers: { connection: 'close' } });
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!this.hosts.allows(req.headers.host)) {
      return sendError(res, null, 'permission', `Host header must name ${this.hosts.describe()}.`);
    }
    if (isCorsPreflight(req)) {
      return sendError(res, null, 'permission', 'Creditgate does not answer browsers (CORS preflight refused).');
    }
    const target = requestUrl(req.url ?? '/');
    // Routed, metered and forwarded as normalised: the path chosen here is the path the upstream serves.
    const normalised = normaliseRequestPath(target.pathname);
    if (!normalised.ok) return sendError(res, apiFamilyForPath(target.pathname), 'invalid_request', normalised.reason);
    const url: RequestUrl = { pathname: normalised.path, search: target.search };
    if (url.pathname === '/healthz' || ((req.method === 'HEAD' || req.method === 'GET') && url.pathname === '/')) {
      return sendJson(res, 200, { ok: true, app: 'creditgate', instance: this.options.instanceId });
    }
    // Stripe has no gateway token: its signature authenticates the webhook (paymentsRoutes.ts).
    if (isTokenlessPaymentRoute(url.pathname)) return handleTokenlessPaymentRoute(this.ctx, req, res, url);
    const route = routeFor(req.method ?? 'GET', url.pathname);
    const isOwnApi = url.pathname.startsWith('/creditgate/v1/');
    if (!route && !isOwnApi) return sendError(res, null, 'not_found', `No such route: ${req.method} ${url.pathname}`);

    const found = this.authenticate(presentedToken(req));
    const client = found instanceof Promise ? await found : found;
    if (client === null) {
      return sendError(res, route?.api ?? null, 'authentication', 'Missing or invalid Creditgate token. Create one with `creditgate token --name <client>`.');
    }
    if (route === null && isPurchaseRoute(url.pathname)) return handlePurchaseRoute(this.ctx, req, res, url, client);
    if (route === null) return handleOwnApi(this.ctx, req, res, url, client); // only the own API has no route
    const requestTarget = { client: client.name, seat: client.seat, pathname: url.pathname, pathAndQuery: url.pathname + url.search };
    if (route.kind === 'refused') return sendError(res, route.api, 'not_metered', route.message);
    if (route.kind === 'free') return forwardUnmetered(this.ctx, req, res, route.api, requestTarget);
    return handleMeteredRequest(this.ctx, req, res, route.api, requestTarget);
  }

  /**
   * A request that failed before it was forwarded (a metered request is forwarded only once its hold
   * is committed): answered in its route's error shape, naming the ledger's trouble when that was it.
   */
  private answerFailure(req: http.IncomingMessage, res: http.ServerResponse, error: unknown): void {
    // Only the vendors' routes have an API of their own (and something to forward); the own API has neither.
    const api = routeFor(req.method ?? 'GET', requestUrl(req.url ?? '/').pathname)?.api ?? null;
    const notForwarded = api ? ' The request was not forwarded.' : '';
    const answer = failureAnswer(error);
    if (!answer) {
      this.options.log.error(`unhandled error on ${req.method} ${req.url}: ${(error as Error).stack ?? String(error)}`);
      return sendError(res, api, 'internal', `Creditgate hit an internal error.${notForwarded}`);
    }
    this.options.log.warn(`${req.method} ${req.url}: ${answer.message}`);
    sendError(res, api, answer.kind, `${answer.message}${notForwarded}`, { headers: answer.headers });
  }

  /** The feed of a seat's status (the gateway's own for the default seat, or on the individual ledger). */
  private feedFor(seat: string | undefined): StatusFeed {
    const seats = this.ctx.book.seats;
    if (seat === undefined || seat === DEFAULT_SEAT || seats === null) return this.feed;
    let feed = this.seatFeeds.get(seat);
    if (!feed) {
      const source = this.ledger.statusSource;
      feed = new StatusFeed({ status: () => seats.status(seat), dataVersion: () => source.dataVersion() }, this.ctx.clock);
      this.seatFeeds.set(seat, feed);
    }
    return feed;
  }

  /** The token's client, remembered or from the ledger (at once on SQLite, a query on PostgreSQL). */
  private authenticate(token: string | null): AuthenticatedClient | null | Promise<AuthenticatedClient | null> {
    return token === null ? null : this.knownTokens.clientFor(token);
  }
}

/** Path and query of a request target; cheaper than `new URL()` on every request. */
function requestUrl(target: string): RequestUrl {
  const queryAt = target.indexOf('?');
  return queryAt < 0 ? { pathname: target, search: '' } : { pathname: target.slice(0, queryAt), search: target.slice(queryAt) };
}
