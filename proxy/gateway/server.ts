/**
 * The gateway's HTTP server: the front door (Host check, CORS refusal, token auth), then routing to
 * the health check, the gateway's own API, or a metered upstream exchange. It listens on loopback
 * only.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createProxyServer } from 'http-proxy';
import type { Micro } from '../../shared/money';
import type { RateCard } from '../../shared/rateCard';
import { apiFamilyForPath, routeFor } from '../dialects';
import { GroupCommit } from '../ledger/groupCommit';
import type { AuthenticatedClient, Ledger } from '../ledger/ledger';
import type { AdmissionEstimator, GatewayContext, Logger, RequestUrl } from './context';
import { failureAnswer } from './failures';
import { exchanges, forwardUnmetered, handleMeteredRequest } from './meteredExchange';
import { handleOwnApi } from './ownApi';
import { normaliseRequestPath } from './requestPath';
import { sendError, sendJson } from './respond';
import { isCorsPreflight, isLoopbackHost, presentedToken } from './security';
import { StatusFeed } from './statusFeed';
import { Upstreams, type UpstreamEndpoints, type UpstreamKeys } from './upstream';

export interface GatewayOptions {
  ledger: Ledger;
  rateCard: RateCard;
  endpoints: UpstreamEndpoints;
  keys: UpstreamKeys;
  estimator: AdmissionEstimator;
  maxBodyBytes: number;
  /** Micro-credits a request admitted on the last of the allowance or credits may cost beyond it. */
  overspendMargin: Micro;
  upstreamTimeoutMs: number;
  log: Logger;
  /**
   * The only thing /healthz tells besides "alive": the lock file holds the same id, so a process that
   * can read the data directory learns whose gateway holds a port, and nobody else learns anything.
   */
  instanceId: string;
  clock?: () => number;
}

export class Gateway {
  readonly feed: StatusFeed;
  private readonly ctx: GatewayContext;
  private readonly server: http.Server;
  /** token → client name and role; cleared on every database change (a token may have been revoked). */
  private readonly knownTokens = new Map<string, AuthenticatedClient>();

  private constructor(private readonly options: GatewayOptions) {
    const clock = options.clock ?? Date.now;
    this.feed = new StatusFeed(options.ledger, clock);
    this.feed.onDataChange(() => this.knownTokens.clear());
    const proxy = createProxyServer({ xfwd: false });
    proxy.on('proxyReq', (proxyReq, req) => exchanges.get(req)?.onProxyReq(proxyReq));
    proxy.on('proxyRes', (proxyRes, req) => exchanges.get(req)?.onProxyRes(proxyRes));
    proxy.on('error', (error) => options.log.warn(`proxy: ${error.message}`));
    this.ctx = {
      ledger: options.ledger,
      commits: new GroupCommit(options.ledger),
      feed: this.feed,
      proxy,
      upstreams: new Upstreams(options.endpoints),
      keys: options.keys,
      rateCard: options.rateCard,
      maxBodyBytes: options.maxBodyBytes,
      overspendMargin: options.overspendMargin,
      upstreamTimeoutMs: options.upstreamTimeoutMs,
      estimator: options.estimator,
      clock,
      log: options.log,
    };
    this.server = http.createServer({ keepAlive: true }, (req, res) => {
      this.route(req, res).catch((error: unknown) => this.answerFailure(req, res, error));
    });
    // Coding agents keep streams open for minutes; only the upstream timeout bounds them.
    this.server.requestTimeout = 0;
    this.server.on('clientError', (_error, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  /** Starts listening on 127.0.0.1; port 0 picks a free one (see `port`). */
  static async start(options: GatewayOptions, port: number): Promise<Gateway> {
    const gateway = new Gateway(options);
    try {
      await new Promise<void>((resolve, reject) => {
        gateway.server.once('error', reject);
        gateway.server.listen(port, '127.0.0.1', () => {
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
    return `http://127.0.0.1:${this.port}`;
  }

  get keys(): UpstreamKeys {
    return this.ctx.keys;
  }

  async close(): Promise<void> {
    this.feed.close();
    this.server.closeIdleConnections();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Give streams in flight a moment to finish, then cut them (their holds settle on the cut).
    const force = setTimeout(() => this.server.closeAllConnections(), 2_000);
    await closed;
    clearTimeout(force);
    // The last charges, from streams cut just now, are written before the ledger can close.
    this.ctx.commits.flush();
    this.ctx.upstreams.close();
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!isLoopbackHost(req.headers.host)) {
      return sendError(res, null, 'permission', 'Host header must name localhost, 127.0.0.1 or [::1].');
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
    const route = routeFor(req.method ?? 'GET', url.pathname);
    const isOwnApi = url.pathname.startsWith('/creditgate/v1/');
    if (!route && !isOwnApi) return sendError(res, null, 'not_found', `No such route: ${req.method} ${url.pathname}`);

    const client = this.authenticate(presentedToken(req));
    if (client === null) {
      return sendError(res, route?.api ?? null, 'authentication', 'Missing or invalid Creditgate token. Create one with `creditgate token --name <client>`.');
    }
    if (route === null) return handleOwnApi(this.ctx, req, res, url, client); // only the own API has no route
    const requestTarget = { client: client.name, pathname: url.pathname, pathAndQuery: url.pathname + url.search };
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

  private authenticate(token: string | null): AuthenticatedClient | null {
    if (token === null) return null;
    const cached = this.knownTokens.get(token);
    if (cached !== undefined) return cached;
    const client = this.options.ledger.authenticate(token);
    if (client !== null) this.knownTokens.set(token, client);
    return client;
  }
}

/** Path and query of a request target; cheaper than `new URL()` on every request. */
function requestUrl(target: string): RequestUrl {
  const queryAt = target.indexOf('?');
  return queryAt < 0 ? { pathname: target, search: '' } : { pathname: target.slice(0, queryAt), search: target.slice(queryAt) };
}
