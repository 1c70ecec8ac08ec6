/**
 * One metered request, from admission to settlement (docs/product.md §1 "Admission and settlement"):
 * validate → estimate → hold → forward → relay unbuffered while metering → post the actual cost
 * (or void the hold when the upstream failed before any output). Exactly one settlement happens per
 * hold, whichever comes first: the terminal event, the end of the body, an upstream cut or silence,
 * the client going away, or the gateway stopping.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable, Stream, Writable } from 'node:stream';
import type { ClientRequest } from 'node:http';
import { findModelRate } from '../../shared/rateCard';
import type { EstimateReason, MeteredUsage } from '../../shared/usage';
import { emptyUsage } from '../../shared/usage';
import { parseJsonBody, UnreadableBodyError } from '../dialects/bodyFormats';
import type { ApiFamily, Dialect, DialectRequest, StreamMeter } from '../dialects/types';
import type { BlockReason } from '../ledger/allowance';
import type { Charge } from '../ledger/ledger';
import { rateLimitHeaders, rateLimitsEvent } from './codexHeaders';
import type { GatewayContext } from './context';
import type { OpenEntry, OpenExchange } from './openExchanges';
import { microToCredits, type Micro } from '../../shared/money';
import { formatCredits } from '../../shared/format';
import { spendLimitEnding, withOutputCap } from '../dialects/spendLimit';
import { SseFramer } from '../dialects/sse';
import { streamAssembler, type StreamAssembler } from '../dialects/streamToBody';
import { priceEstimate } from '../pricing/estimator';
import { spendBound } from '../pricing/spendBound';
import { BodyUsageReader } from './bodyUsageReader';
import { connectionListed, isHopByHop } from './hopByHop';
import { contentEncoding, createDecoder, type Encoding } from './contentEncoding';
import { readRequestBody } from './requestBody';
import { sendError } from './respond';
import { SilenceTimer } from './silenceTimer';
import { upstreamHeaders } from './upstream';

/** Exchanges in flight, found again from http-proxy's server-wide `proxyReq`/`proxyRes` events. */
export const exchanges = new WeakMap<IncomingMessage, MeteredExchange>();

export interface RequestTarget {
  client: string;
  /** The seat the client's token spends on (a team's ledger); the default seat when absent. */
  seat?: string;
  pathname: string;
  pathAndQuery: string;
}

export async function handleMeteredRequest(
  ctx: GatewayContext,
  req: IncomingMessage,
  res: ServerResponse,
  dialect: Dialect,
  target: RequestTarget,
): Promise<void> {
  const raw = await readRequestBody(req, res, dialect, ctx.maxBodyBytes);
  if (raw === null) return;
  let json: unknown;
  try {
    json = dialect.parseRequest ? await dialect.parseRequest(raw, req.headers['content-type']) : parseJsonBody(raw);
  } catch (error) {
    const message = error instanceof UnreadableBodyError ? error.message : 'The request body cannot be read.';
    return sendError(res, dialect, 'invalid_request', message);
  }
  const validation = dialect.validate(json);
  if (!validation.ok) {
    return sendError(res, dialect, 'invalid_request', validation.message, { details: { param: validation.param } });
  }
  const request = validation.request;

  const rate = findModelRate(ctx.rateCard, request.model, dialect.vendor);
  if (!rate) {
    return sendError(
      res,
      dialect,
      'invalid_request',
      `Model "${request.model}" is not on Creditgate's rate card (version ${ctx.rateCard.version}) and the card has no default price.`,
    );
  }

  const unitUsage = request.knownUsage ?? request.fallbackUsage;
  const estimate = ctx.estimator.estimate({
    model: request.model,
    rate,
    vendor: dialect.vendor,
    promptText: request.promptText,
    maxOutputTokens: request.maxOutputTokens,
    // Images, characters, seconds: known from the request (or conservatively guessed), held like tokens.
    unitUsage,
  });
  const requestId = randomUUID();
  const admit = { seat: target.seat, requestId, client: target.client, model: request.model, route: target.pathname, feature: rate.feature, estimate: estimate.cost };
  // The hold is committed before anything goes upstream. A non-streaming admission joins the turn's
  // other writes in one transaction (ledger/groupCommit.ts), which halves the gateway's CPU per request
  // under load; a streaming one, whose client waits for the first token, is written at once instead of
  // after the turn's other callbacks (those cost 0.3–0.8 ms to first byte under 32 streams). While
  // another process holds the ledger locked, either waits (without blocking the event loop) up to
  // the configured patience, then fails as busy: a 503 ledger_busy, and nothing forwarded.
  const admission = await ctx.ledger.admit(admit, request.stream);
  ctx.feed.changed();
  const now = ctx.clock();
  // A fresh object per call: ours to complete (same header order as spreading it into a new one).
  const headers = rateLimitHeaders(admission.limits, now);
  // How this request runs: a feature outside the plan runs on credits whatever the windows say.
  headers['x-creditgate-state'] = admission.state;
  headers['x-creditgate-request-id'] = requestId;

  const codexClient = req.headers.originator !== undefined;
  if (!admission.admitted) {
    const retryAfter = admission.retryAt === null ? null : Math.max(1, Math.ceil((admission.retryAt - now) / 1000));
    if (retryAfter !== null) headers['retry-after'] = String(retryAfter);
    return sendError(res, dialect, 'usage_limit', blockedMessage(admission.reason), {
      headers,
      details: { planType: admission.planType, resetsAt: admission.retryAt === null ? null : Math.floor(admission.retryAt / 1000), codexClient },
    });
  }

  // What the account can still pay bounds the request: its output is capped to it, or, when even its
  // input costs more, it is refused (the hold goes back). A stream is ended by the gateway at the bound
  // whatever the model's maximum; only a non-streaming answer, which cannot be stopped midway, relies
  // on the rate card's figure for it (a figure above the vendor's would get the request refused).
  const modelMaxOutput = request.stream ? null : (rate.max_output_tokens ?? null);
  const bound = spendBound({
    rate,
    vendor: dialect.vendor,
    inputTokens: estimate.inputTokens,
    unitCost: unitUsage ? priceEstimate(rate, dialect.vendor, 0, 0, unitUsage) : 0,
    requestedOutputTokens: request.maxOutputTokens,
    modelMaxOutputTokens: modelMaxOutput,
    spendable: admission.spendable,
    margin: ctx.overspendMargin,
  });
  if (!bound.ok) {
    await ctx.settlements.void(admission.holdId);
    headers['x-creditgate-state'] = 'blocked';
    const message =
      `Usage limit reached: this request's input alone would cost about ${formatCredits(microToCredits(bound.inputCost))} credits, ` +
      `more than the ${formatCredits(microToCredits(admission.spendable))} left. Add credits (Creditgate: Add Credits… in VS Code, ` +
      'or `creditgate credits add`) or send a shorter request.';
    return sendError(res, dialect, 'usage_limit', message, { headers, details: { planType: admission.limits.plan, resetsAt: null, codexClient } });
  }

  let prepared = dialect.prepare(json as Record<string, unknown>, request);
  const capped = bound.outputCap === null ? null : withOutputCap(dialect.name, prepared.body, bound.outputCap, modelMaxOutput);
  // A non-streaming answer cannot be stopped midway: when no limit that bounds it can be forwarded
  // (none of the client's own, a model whose maximum the card does not give, a cap past 16,384), it
  // goes upstream as a stream, which the gateway ends at the bound, and its client gets the body
  // assembled from the events (dialects/streamToBody.ts).
  const assembler = !request.stream && capped === null && bound.outputCap !== null && request.maxOutputTokens === null ? streamAssembler(dialect.name) : null;
  const exchangeRequest = assembler ? { ...request, stream: true } : request;
  if (assembler) prepared = dialect.prepare({ ...(json as Record<string, unknown>), stream: true }, exchangeRequest);
  const body = capped ?? prepared.body;
  const payload = body === json ? raw : Buffer.from(JSON.stringify(body));
  const exchange = new MeteredExchange(ctx, req, res, dialect, exchangeRequest, {
    holdId: admission.holdId,
    headers,
    assembler,
    // The assembled body carries the usage, as a non-streaming answer does.
    stripUsageChunk: assembler ? false : prepared.stripUsageChunk,
    // Codex clients send `originator`; they get the settled state as a codex.rate_limits event.
    injectRateLimits: dialect.name === 'responses' && codexClient,
    // Only a request whose output the account cannot fully pay is watched as it streams.
    budget:
      bound.outputCap !== null && bound.outputCap < WATCHED_OUTPUT_CEILING
        ? { stopAt: admission.spendable, inputCost: bound.inputCost, outputPrice: bound.outputPrice, requestId, model: request.model }
        : null,
  });
  exchange.forward(payload, target);
}

/**
 * The 429's message: the dialects' standard wording (what ran out, when it resets, how to add
 * credits), except when credits exist and only the user's auto-use switch keeps them unused.
 */
function blockedMessage(reason: BlockReason): string {
  if (reason === 'seat_cap') {
    return "Usage limit reached: your seat's plan windows are used up and so is its weekly share of the team's credit pool. Ask a team admin to raise the seat's cap, or wait for its week to end.";
  }
  if (reason !== 'auto_use_off') return '';
  return (
    "Usage limit reached: your plan's allowance is used up and automatic use of credits is off. " +
    'Turn it on with "Creditgate: Toggle Auto-Use of Credits" in VS Code or `creditgate auto-use on`.'
  );
}

interface ExchangeOptions {
  holdId: number;
  headers: Record<string, string>;
  /** Set when a non-streaming request went upstream as a stream: its client gets the assembled body. */
  assembler: StreamAssembler | null;
  stripUsageChunk: boolean;
  injectRateLimits: boolean;
  /** Set when the request runs on the last of what the account can pay: its stream is ended there. */
  budget: StreamBudget | null;
}

interface StreamBudget {
  /** The stream is ended once its cost passes what the account could pay; the margin absorbs the last event. */
  stopAt: Micro;
  inputCost: Micro;
  /** Micro-credits per output token (the card's price per 1M tokens). */
  outputPrice: number;
  requestId: string;
  model: string;
}

/**
 * Output caps above this are not watched while streaming: no model writes that many tokens in one
 * answer, so such a request cannot reach its cap (and watching costs a tokenizer pass per event).
 */
const WATCHED_OUTPUT_CEILING = 256_000;

/**
 * After a non-streaming client disconnects, how long and how much of the upstream's answer the gateway
 * still reads to bill the usage it reports; past either, the request is billed as an estimate.
 */
const DISCONNECT_DRAIN_MS = 5 * 60_000;
const DISCONNECT_DRAIN_BYTES = 256 * 1024 * 1024;

/** What settling an exchange that has nothing to settle returns: nothing to wait for. */
const SETTLED = Promise.resolve();

/** Replaces http-proxy's abort of a non-streaming upstream request (see onProxyReq). */
const ignoreAbort = (): void => undefined;

export class MeteredExchange implements OpenExchange {
  private settled = false;
  /** Resolves once the settlement is durable (committed, or kept in the pending-charges journal). */
  private settling: Promise<void> = SETTLED;
  /** The client's response is being ended (after its charge commits): end it only once. */
  private ending = false;
  /** Set when the upstream let the request wait past its limit before answering: the limit, for the 504. */
  private timedOutAfterMs: number | null = null;
  /** Watches the upstream: first for the start of its answer, then for silence in the middle of it. */
  private readonly silence: SilenceTimer;
  private meter: StreamMeter | null = null;
  private proxyReq: ClientRequest | null = null;
  private proxyRes: IncomingMessage | null = null;
  private bodyReader: BodyUsageReader | null = null;
  /** The client closed its connection before the response ended. */
  private clientGone = false;
  /** Bytes read from the upstream, counted once the client is gone (non-streaming only). */
  private drainedBytes = 0;
  private drainTimer: NodeJS.Timeout | undefined;
  /** Its place among the exchanges a stopping gateway ends, while it is unsettled and forwarded. */
  private openEntry: OpenEntry | null = null;
  /** The events of a stream assembled for a non-streaming client, and the status and headers to send it with. */
  private collected: { framer: SseFramer; status: number; headers: OutgoingHttpHeaders } | null = null;

  constructor(
    private readonly ctx: GatewayContext,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly dialect: Dialect,
    private readonly request: DialectRequest,
    private readonly options: ExchangeOptions,
  ) {
    const { firstByteMs, answerMs, interByteMs } = ctx.upstreamTimeouts;
    this.silence = new SilenceTimer((ms) => this.onUpstreamSilent(ms), Math.min(request.stream ? firstByteMs : answerMs, interByteMs));
  }

  forward(payload: Buffer, target: RequestTarget): void {
    const { ctx, req, res, dialect } = this;
    if (req.socket.destroyed) {
      // The client left while its hold was being written: nothing went upstream, nothing to charge.
      this.settleVoid();
      return;
    }
    exchanges.set(req, this);
    this.openEntry = ctx.openExchanges.join(this);
    res.once('close', () => {
      this.silence.stop();
      if (!res.writableFinished) this.onClientGone();
    });
    // A stream's headers come at once; a non-streaming answer only once it is generated, whole.
    this.silence.watch(this.request.stream ? ctx.upstreamTimeouts.firstByteMs : ctx.upstreamTimeouts.answerMs);
    req.headers = upstreamHeaders(req.headers, dialect.upstream, ctx.keys.get(dialect.upstream), payload.length);
    const { target: upstreamTarget, agent, ignorePath } = ctx.upstreams.proxyOptions(dialect.upstream, target.pathAndQuery);
    // Listed field by field: spreading proxyOptions() into this literal took V8's slow path per request.
    const options = { target: upstreamTarget, agent, ignorePath, changeOrigin: true, selfHandleResponse: true, buffer: bodyStream(payload) };
    ctx.proxy.web(req, res, options, (error) => this.onUpstreamError(error));
  }

  /** http-proxy created the upstream request. */
  onProxyReq(proxyReq: ClientRequest): void {
    this.proxyReq = proxyReq;
  }

  onProxyRes(proxyRes: IncomingMessage): void {
    this.proxyRes = proxyRes;
    this.silence.watch(this.ctx.upstreamTimeouts.interByteMs);
    const status = proxyRes.statusCode ?? 502;
    const headers = clientHeaders(proxyRes.headers, this.options.headers);
    if (status >= 400) {
      // The upstream refused the request before producing any output: nothing to charge.
      this.settleVoid();
      if (this.clientGone) return void proxyRes.resume();
      if (status === 401) return this.upstreamKeyRejected(proxyRes);
      this.res.writeHead(status, headers);
      proxyRes.pipe(this.res);
      return;
    }
    const encoding = contentEncoding(proxyRes.headers);
    const isStream = /text\/event-stream/i.test(proxyRes.headers['content-type'] ?? '');
    if (isStream && this.clientGone) return this.abandonAfterDisconnect();
    if (isStream) this.relayStream(proxyRes, status, headers, encoding);
    else this.relayBody(proxyRes, status, headers, encoding);
  }

  /**
   * The upstream answered 401: it refused the upstream key Creditgate sent, not the client's gateway
   * token (that was checked at the door). Passed through, it read exactly like a wrong gateway token.
   */
  private upstreamKeyRejected(proxyRes: IncomingMessage): void {
    proxyRes.resume();
    const upstream = this.dialect.upstream;
    const vendor = upstream === 'openai' ? 'OpenAI' : 'Anthropic';
    const variable = upstream === 'openai' ? 'OPENAI_API_KEY' : 'ANTHROPIC_API_KEY';
    const hasKey = this.ctx.keys.has(upstream);
    const message =
      `The ${vendor} upstream rejected ${hasKey ? "Creditgate's upstream API key" : 'the request: Creditgate has no upstream API key for it'} ` +
      `(HTTP 401). Your Creditgate token is fine. Set the ${vendor} key with "Creditgate: Set Upstream API Key…" in VS Code, ` +
      `or ${variable} in the environment of the gateway (\`creditgate serve\`).`;
    this.ctx.log.warn(`request ${this.options.headers['x-creditgate-request-id']}: ${message}`);
    this.ctx.keys.reportRejected(upstream);
    sendError(this.res, this.dialect, 'upstream_key_rejected', message, { headers: this.options.headers });
  }

  /** Streams pass through chunk by chunk; the meter watches (and rewrites only where it must). */
  private relayStream(proxyRes: IncomingMessage, status: number, headers: OutgoingHttpHeaders, encoding: Encoding | null): void {
    const rewrites = this.options.stripUsageChunk || this.options.injectRateLimits;
    const meter = this.dialect.createStreamMeter({
      stripUsageChunk: this.options.stripUsageChunk,
      beforeTerminal: this.options.injectRateLimits ? (usage) => this.settleAtTerminal(usage) : undefined,
    });
    this.meter = meter;
    // A watched stream may have to end between two events: the meter then passes whole events only.
    if (this.options.budget) meter.wholeEventsOnly();
    const decoder = encoding ? createDecoder(encoding) : null;
    if (rewrites || decoder || this.options.budget) delete headers['content-length'];
    if (decoder && rewrites) delete headers['content-encoding'];
    const { assembler } = this.options;
    if (assembler) {
      // Nothing goes to the client until the answer is whole: the events are framed and assembled.
      const framer = new SseFramer((event) => {
        if (event && !event.dataEquals('[DONE]')) assembler.push(event.type, event.json());
      });
      this.collected = { framer, status, headers };
    } else {
      this.res.writeHead(status, headers);
      this.res.flushHeaders();
    }

    const finish = (): void => {
      if (this.ending) return;
      this.endAfter(this.settleFromStream(null), meter.end());
    };
    const relay = (chunk: Buffer, source: Readable): void => {
      if (this.ending) return;
      this.silence.heard();
      this.write(meter.push(chunk), source);
      if (meter.broken()) this.onBrokenStream();
      else if (this.overBudget(meter)) this.endAtBudget();
    };
    if (!decoder) {
      proxyRes.on('data', (chunk: Buffer) => relay(chunk, proxyRes));
      proxyRes.on('end', finish);
    } else if (rewrites || this.options.budget || assembler) {
      proxyRes.pipe(decoder);
      decoder.on('data', (chunk: Buffer) => relay(chunk, decoder));
      decoder.on('end', finish);
    } else {
      // The client gets the compressed bytes untouched; a decoded copy feeds the meter.
      proxyRes.on('data', (chunk: Buffer) => {
        this.silence.heard();
        this.write(chunk, proxyRes);
        decoder.write(chunk);
      });
      proxyRes.on('end', () => decoder.end());
      decoder.on('data', (chunk: Buffer) => {
        meter.push(chunk);
        if (meter.broken()) this.onBrokenStream();
      });
      decoder.on('end', finish);
    }
    decoder?.on('error', () => this.onUpstreamCut());
    proxyRes.on('aborted', () => this.onUpstreamCut());
    proxyRes.on('error', () => this.onUpstreamCut());
  }

  /**
   * Non-streaming bodies are written through as they arrive and read for usage on the side, in
   * bounded memory whatever their size (bodyUsageReader.ts).
   */
  private relayBody(proxyRes: IncomingMessage, status: number, headers: OutgoingHttpHeaders, encoding: Encoding | null): void {
    const reader = new BodyUsageReader(encoding);
    this.bodyReader = reader;
    if (!this.clientGone) this.res.writeHead(status, headers);
    // Each chunk is written when the next arrives, and the last only once the charge is committed: a
    // client reading a Content-Length body is done at its last byte, and must then find the charge in
    // the ledger (a status read at once, on any instance). One chunk in memory, whatever the size.
    let held: Buffer | null = null;
    proxyRes.on('data', (chunk: Buffer) => {
      this.silence.heard();
      reader.push(chunk);
      if (held) this.write(held, proxyRes);
      held = chunk;
      this.drainedBytes += chunk.length;
      if (this.clientGone && this.drainedBytes > DISCONNECT_DRAIN_BYTES) this.abandonAfterDisconnect();
    });
    proxyRes.on('end', () => {
      if (this.ending) return;
      this.ending = true;
      reader.end((body) => {
        // No usage in the body (TTS answers with audio bytes): what the request alone made known.
        const usage = (body === null ? null : this.dialect.usageFromBody(body)) ?? this.request.knownUsage ?? null;
        const settled = usage ? this.post(usage, null) : this.post(this.estimatedUsage(null, ''), this.clientGone ? 'client_disconnect' : 'no_usage');
        this.endAfter(settled, held);
      });
    });
    proxyRes.on('aborted', () => this.onUpstreamCut());
    proxyRes.on('error', () => this.onUpstreamCut());
  }

  /** Writes to the client, pausing the source while the client's socket is backed up. */
  private write(bytes: Buffer, source: Readable): void {
    if (this.collected) return this.collected.framer.push(bytes);
    if (bytes.length === 0 || this.res.writableEnded || this.clientGone) return;
    if (!this.res.write(bytes)) {
      source.pause();
      // The upstream is silent because we stopped reading it: that silence is not its own.
      this.silence.pause();
      this.res.once('drain', () => {
        source.resume();
        this.silence.resume();
      });
    }
  }

  private onUpstreamError(error: Error): void {
    if (this.settled && this.res.writableEnded) return;
    // An assembled answer sends its headers only at the end: once its stream began, it was answered.
    if (!this.res.headersSent && !this.collected) {
      this.settleVoid();
      const kind = this.timedOutAfterMs !== null ? 'upstream_timeout' : 'upstream_unavailable';
      const message = this.timedOutAfterMs !== null
        ? `The upstream did not answer within ${this.timedOutAfterMs} ms.`
        : `The upstream could not be reached (${(error as NodeJS.ErrnoException).code ?? error.message}).`;
      this.ctx.log.warn(`request ${this.options.headers['x-creditgate-request-id']}: ${message}`);
      sendError(this.res, this.dialect, kind, message, { headers: this.options.headers });
      return;
    }
    this.onUpstreamCut();
  }

  /**
   * The upstream sent nothing for `ms`. Before its answer began, the request fails with a 504 (and
   * its hold is voided); in the middle of it, the answer ends there, billed from what was seen.
   */
  private onUpstreamSilent(ms: number): void {
    if (!this.proxyRes) {
      this.timedOutAfterMs = ms;
      const error = new Error(`upstream sent nothing for ${ms} ms`);
      if (this.proxyReq) this.proxyReq.destroy(error);
      else this.onUpstreamError(error);
      return;
    }
    if (!this.settled) this.ctx.log.warn(`request ${this.options.headers['x-creditgate-request-id']}: the upstream sent nothing for ${ms} ms; the answer was ended there`);
    this.onUpstreamCut();
    this.destroyUpstream();
  }

  /**
   * The gateway is stopping and this exchange outlived the grace period. A stream ends cleanly, as
   * after an upstream cut; a request still waiting for its answer gets a 503; an answer half written
   * is broken off. Each is billed from what was seen (estimated, `gateway_stop`).
   */
  endForStop(): Promise<void> {
    if (this.settled) return this.settling;
    if (this.meter && !this.ending) {
      const settled = this.settleFromStream('gateway_stop');
      this.endAfter(settled, this.meter.end());
      this.destroyUpstream();
      return settled;
    }
    this.bodyReader?.destroy();
    this.ending = true;
    this.silence.stop();
    const settled = this.post(this.estimatedUsage(null, ''), 'gateway_stop');
    if (this.res.headersSent || this.clientGone) {
      this.res.destroy();
    } else {
      const message = 'Creditgate is stopping: the request was ended before the upstream answered. Try again once Creditgate runs again.';
      sendError(this.res, this.dialect, 'gateway_stopping', message, { headers: { ...this.options.headers, connection: 'close' } });
    }
    this.destroyUpstream();
    return settled;
  }

  /** Output tokens counted so far in a watched stream, and how much of its text they cover. */
  private budgetTokens = 0;
  private budgetChars = 0;

  /**
   * A watched stream's cost so far (the conservative input, plus its output counted with the real
   * tokenizer, new text only) against its cap. Reasoning tokens never appear in a stream; the output
   * limit forwarded upstream bounds those.
   */
  private overBudget(meter: StreamMeter): boolean {
    const budget = this.options.budget;
    if (!budget) return false;
    const text = meter.streamedText();
    if (text.length === this.budgetChars) return false;
    this.budgetTokens += this.ctx.estimator.countTokens(text.slice(this.budgetChars));
    this.budgetChars = text.length;
    return budget.inputCost + this.budgetTokens * budget.outputPrice > budget.stopAt;
  }

  /**
   * The stream reached what the account can pay: end it the way the API ends an answer that hit its
   * output limit, close the upstream, and bill what was streamed.
   */
  private endAtBudget(): void {
    const budget = this.options.budget!;
    this.ctx.log.info(`request ${budget.requestId}: stopped at the spending limit`);
    const usage = this.estimatedUsage(this.meter?.usage() ?? null, this.meter?.streamedText() ?? '');
    this.endAfter(this.post(usage, 'spend_limit'), spendLimitEnding(this.dialect.name, budget.requestId, budget.model));
    this.destroyUpstream();
  }

  /** An event past the size limit: the stream is treated as cut (bill what was seen) and the upstream closed. */
  private onBrokenStream(): void {
    if (this.ending) return;
    this.ctx.log.warn(`request ${this.options.headers['x-creditgate-request-id']}: an upstream event exceeded the size limit; stream ended`);
    this.onUpstreamCut();
    this.destroyUpstream();
  }

  /** The upstream broke off mid-response: end the client's stream cleanly and bill what was seen. */
  private onUpstreamCut(): void {
    if (this.res.writableEnded || this.ending) return;
    this.bodyReader?.destroy();
    this.endAfter(this.settleFromStream(this.clientGone ? 'client_disconnect' : 'upstream_cut'), this.meter?.end() ?? null);
  }

  /** Ends the client's response (with the meter's last bytes) once its charge is committed. */
  private endAfter(settled: Promise<void>, tail: Buffer | null): void {
    this.ending = true;
    this.silence.stop();
    const collected = this.collected;
    if (collected && tail) collected.framer.push(tail);
    collected?.framer.end();
    void settled.then(() => {
      clearTimeout(this.drainTimer);
      if (this.clientGone) return;
      if (collected) return this.sendAssembled(collected);
      if (tail && tail.length > 0) this.res.end(tail);
      else this.res.end();
    });
  }

  /** The assembled body of a non-streaming request that went upstream as a stream. */
  private sendAssembled(collected: { status: number; headers: OutgoingHttpHeaders }): void {
    const body = this.options.assembler!.body();
    if (body === null) {
      const message = 'The upstream ended its answer before saying anything; nothing was charged beyond what it reported.';
      return sendError(this.res, this.dialect, 'upstream_unavailable', message, { headers: this.options.headers });
    }
    const headers: OutgoingHttpHeaders = { ...collected.headers, 'content-type': 'application/json' };
    delete headers['content-encoding'];
    delete headers['content-length'];
    this.res.writeHead(collected.status, headers);
    this.res.end(JSON.stringify(body));
  }

  /**
   * The client went away before its response ended. A stream is settled from what was streamed and
   * the upstream closed, which makes the vendors stop generating (and billing). A non-streaming
   * request is different: the upstream generates the whole answer whoever waits for it, so the
   * gateway keeps reading the response, for a bounded time and size, to bill the usage it reports.
   */
  private onClientGone(): void {
    this.clientGone = true;
    if (this.request.stream || this.settled) {
      void this.settleFromStream('client_disconnect');
      this.destroyUpstream();
      return;
    }
    // http-proxy aborts the upstream request when the client's socket closes (on the request's error
    // event, a tick after this close): keep it. Set only now, on the rare disconnect: an own property
    // on every ClientRequest made them polymorphic and cost ~30 µs per request in Node's http client.
    if (this.proxyReq) this.proxyReq.abort = ignoreAbort;
    this.drainTimer = setTimeout(() => this.abandonAfterDisconnect(), DISCONNECT_DRAIN_MS);
    this.drainTimer.unref();
  }

  /** The upstream took too long or sent too much after its client left: bill an estimate and stop. */
  private abandonAfterDisconnect(): void {
    if (this.settled) return;
    this.bodyReader?.destroy();
    void this.settleFromStream('client_disconnect');
    this.destroyUpstream();
  }

  private destroyUpstream(): void {
    this.proxyRes?.destroy();
    this.proxyReq?.destroy();
  }

  /**
   * Codex: settle on the terminal event and inject the codex.rate_limits event before it. The event
   * tells the settled account, so the terminal event and what follows are held until the charge is
   * durable (committed with the turn's other writes, or on a shared ledger over the network), then
   * released behind the event; a charge kept for later (the database away or locked) releases them
   * without one.
   */
  private settleAtTerminal(reported: MeteredUsage | null): 'hold' | null {
    if (this.settled) return null;
    const meter = this.meter!;
    const usage = reported ?? this.estimatedUsage(meter.usage(), meter.streamedText());
    const charge = this.charge(usage, reported ? null : 'upstream_cut');
    const posted = this.ctx.settlements.postWithLimits(this.options.holdId, charge);
    this.settling = posted.limits.then((limits) => {
      const released = meter.release(limits && rateLimitsEvent(limits, this.ctx.clock()));
      if (released.length > 0 && !this.res.writableEnded && !this.clientGone) this.res.write(released);
    });
    return 'hold';
  }

  /** Settles a stream from what the meter saw; resolves once the charge is durable. */
  private settleFromStream(reason: EstimateReason | null): Promise<void> {
    if (this.settled) return this.settling;
    const meter = this.meter;
    const usage = meter?.usage() ?? null;
    const complete = meter?.sawTerminal() ?? false;
    if (usage && complete) return this.post(usage, null);
    // A stream that ended without its terminal event was cut; one that ended properly just had no usage.
    return this.post(this.estimatedUsage(usage, meter?.streamedText() ?? ''), reason ?? (complete ? 'no_usage' : 'upstream_cut'));
  }

  /**
   * Usage for a response that never reported its own: what the upstream did report (Anthropic sends
   * input tokens first) completed with tokenizer counts of the prompt and of the streamed output.
   */
  private estimatedUsage(partial: MeteredUsage | null, streamedText: string): MeteredUsage {
    // With nothing reported, the request's own figures (TTS characters, images asked for) are the base.
    const usage = partial ? { ...partial } : { ...(this.request.knownUsage ?? this.request.fallbackUsage ?? emptyUsage(this.dialect.vendor)) };
    if (!partial) usage.inputTokens = Math.max(usage.inputTokens, this.ctx.estimator.countTokens(this.request.promptText));
    usage.outputTokens = Math.max(usage.outputTokens, this.ctx.estimator.countTokens(streamedText));
    return usage;
  }

  /**
   * Charges the hold with this turn's other writes; resolves (never rejects) once the charge is
   * durable: committed, or, while another process holds the ledger locked, kept in the pending-charges
   * journal until it lands (ledger/settlements.ts).
   */
  private post(usage: MeteredUsage, reason: EstimateReason | null): Promise<void> {
    if (this.settled) return this.settling;
    const charge = this.charge(usage, reason);
    this.settling = this.ctx.settlements.post(this.options.holdId, charge);
    return this.settling;
  }

  /** Marks the exchange settled (exactly one charge per hold) and builds its charge. */
  private charge(usage: MeteredUsage, reason: EstimateReason | null): Charge {
    this.settled = true;
    exchanges.delete(this.req);
    if (this.openEntry) this.ctx.openExchanges.leave(this.openEntry);
    if (reason === null) {
      this.ctx.estimator.record(this.request.model, {
        outputTokens: usage.outputTokens,
        promptChars: this.request.promptText.length,
        inputTokens: usage.inputTokens + (usage.vendor === 'anthropic' ? usage.cachedInputTokens + usage.cacheWriteTokens : 0),
      });
    }
    return { usage, httpStatus: this.proxyRes?.statusCode ?? 200, estimated: reason !== null, reason };
  }

  /** Releases the hold (nothing went upstream or nothing came back); kept until it lands, like a charge. */
  private settleVoid(): void {
    if (this.settled) return;
    this.settled = true;
    exchanges.delete(this.req);
    if (this.openEntry) this.ctx.openExchanges.leave(this.openEntry);
    this.settling = this.ctx.settlements.voidNow(this.options.holdId);
  }
}

/**
 * Forwards a request on a route that cannot cost anything (routes.ts), unmetered but still with the
 * gateway token swapped for the upstream key.
 */
export async function forwardUnmetered(
  ctx: GatewayContext,
  req: IncomingMessage,
  res: ServerResponse,
  api: ApiFamily,
  target: RequestTarget,
): Promise<void> {
  const payload = await readRequestBody(req, res, api, ctx.maxBodyBytes);
  if (payload === null) return;
  req.headers = upstreamHeaders(req.headers, api.upstream, ctx.keys.get(api.upstream), req.method === 'GET' || req.method === 'HEAD' ? null : payload.length);
  ctx.proxy.web(
    req,
    res,
    {
      ...ctx.upstreams.proxyOptions(api.upstream, target.pathAndQuery),
      changeOrigin: true,
      buffer: bodyStream(payload),
      // These answers are small and quick; an upstream silent this long is not coming back.
      proxyTimeout: ctx.upstreamTimeouts.firstByteMs,
    },
    (error) => sendError(res, api, 'upstream_unavailable', `The upstream could not be reached (${(error as NodeJS.ErrnoException).code ?? error.message}).`),
  );
}

/**
 * The body for http-proxy's `buffer` option, which it only ever pipes into the upstream request:
 * ending that request with the payload directly spares a stream object per request.
 */
function bodyStream(payload: Buffer): Stream {
  const source = {
    pipe<T extends Writable>(destination: T): T {
      destination.end(payload);
      return destination;
    },
  };
  return source as unknown as Stream;
}

/** Upstream headers for the client: hop-by-hop and upstream `x-codex-*` removed, ours added. */
function clientHeaders(upstream: IncomingHttpHeaders, ours: Record<string, string>): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  const listed = connectionListed(upstream);
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || isHopByHop(name, listed) || name.startsWith('x-codex-')) continue;
    headers[name] = value;
  }
  for (const name in ours) headers[name] = ours[name];
  return headers;
}
