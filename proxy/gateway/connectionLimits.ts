/**
 * The gateway's HTTP server, with what one client may hold of it bounded: the time to send its
 * headers and its whole request, idle time between requests, and the connections open at once. Node
 * enforces the times; the connection cap is ours, so the excess gets a 503 at once rather than a
 * reset or a wait. With TLS credentials it is an HTTPS server, bounded the same way.
 */
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TlsCredentials } from './listenAddress';
import { rawErrorResponse } from './respond';

export interface ConnectionLimits {
  /** From a request's first byte, or a new connection's, to the end of its headers. */
  requestHeadersTimeoutMs: number;
  /** From a request's first byte to the end of its body. The response is not bounded by it. */
  requestBodyTimeoutMs: number;
  /** How long a kept-alive connection may sit idle between two requests. */
  keepAliveTimeoutMs: number;
  maxConnections: number;
}

/** How long a refusal may take to reach its client before the socket is destroyed. */
const REFUSAL_LINGER_MS = 1_000;

export type GatewayServer = http.Server | https.Server;

export function createLimitedServer(limits: ConnectionLimits, tls: TlsCredentials | null, onRequest: http.RequestListener): GatewayServer {
  const refused = new WeakSet<Socket>();
  const options: http.ServerOptions = {
    keepAlive: true,
    headersTimeout: limits.requestHeadersTimeoutMs,
    // Node stops this clock once the request is in, never during the response: the minutes-long
    // streams of coding agents are bounded by the upstream timeouts instead.
    requestTimeout: limits.requestBodyTimeoutMs,
    connectionsCheckingInterval: checkingInterval(limits),
  };
  const listener: http.RequestListener = (req, res) => {
    if (!refused.has(req.socket)) onRequest(req, res);
  };
  // A handshake is part of sending the headers: it gets the same deadline.
  const server = tls
    ? https.createServer({ ...options, cert: tls.cert, key: tls.key, handshakeTimeout: limits.requestHeadersTimeoutMs }, listener)
    : http.createServer(options, listener);
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  let open = 0;
  // Prepended, so it runs before Node's own listener hands the socket to the HTTP parser. Over TLS
  // the count starts once the handshake is done, so that the refusal can be read.
  server.prependListener(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    open++;
    socket.once('close', () => open--);
    if (open <= limits.maxConnections) return;
    refused.add(socket);
    const message = `Creditgate serves at most ${limits.maxConnections} connections at once (maxConnections); try again shortly.`;
    endAndLinger(socket, rawErrorResponse('too_many_connections', message, { 'retry-after': '1' }));
  });
  server.on('clientError', answerClientError);
  return server;
}

/**
 * Node checks both request deadlines on this interval (30 s by default, which would let a slow client
 * hold on for 30 s past its deadline): a quarter of the shorter one, at most a second.
 */
function checkingInterval(limits: ConnectionLimits): number {
  return Math.max(10, Math.min(1_000, Math.floor(Math.min(limits.requestHeadersTimeoutMs, limits.requestBodyTimeoutMs) / 4)));
}

/** A request Node's parser refused, or one that missed its deadline: answered unless a response has begun. */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  // Node's own handler makes the same check: a socket whose response has begun cannot take another.
  const responding = (socket as Duplex & { _httpMessage?: http.ServerResponse })._httpMessage?.headersSent ?? false;
  if (!socket.writable || responding) return void socket.destroy();
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    const message = 'The request did not arrive in time (requestHeadersTimeoutMs / requestBodyTimeoutMs); the connection is closed.';
    return endAndLinger(socket, rawErrorResponse('request_timeout', message));
  }
  endAndLinger(socket, 'HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
}

/**
 * Sends a last answer and closes. The server keeps reading half-closed sockets, so a client that
 * never closes its side (a slow one, by definition) is destroyed once the answer had time to arrive.
 */
function endAndLinger(socket: Duplex, answer: string): void {
  socket.end(answer);
  const linger = setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS);
  linger.unref();
  socket.once('close', () => clearTimeout(linger));
}
