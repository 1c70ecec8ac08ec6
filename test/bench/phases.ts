/**
 * What the gateway benchmark sends: the kinds of request (workloads) and the phases that run them,
 * with their sizes. The mixed phase has no workload of its own: it runs the others again (mixedPhase.ts).
 */
import type { PhaseName } from './report';

export interface Workload {
  path: string;
  body: string;
  headers: Record<string, string>;
  /** A good response's body ends like this (see LoadSpec.requireBodyEnd); undefined: not checked. */
  bodyEnd?: RegExp;
  /** A stream: its time to first byte is reported. */
  stream: boolean;
}

const PROMPT = 'Write a haiku about a gateway that counts tokens.';
const CHAT_BODY = JSON.stringify({ model: 'gpt-5', messages: [{ role: 'user', content: PROMPT }] });
/** 20 deltas 5 ms apart: a stream that stays open ~100 ms, as a model's answer does. */
export const STREAM_BEHAVIOR = 'deltas=20,interval=5';
/** 20 MiB: a very long answer, which a gateway that buffers bodies holds whole (several times over). */
export const LARGE_BYTES = 20 * 1024 * 1024;

export const WORKLOADS = {
  chat: { path: '/v1/chat/completions', body: CHAT_BODY, headers: {}, stream: false },
  chatStream: {
    path: '/v1/chat/completions',
    body: JSON.stringify({ model: 'gpt-5', messages: [{ role: 'user', content: PROMPT }], stream: true }),
    headers: { 'x-fake-behavior': STREAM_BEHAVIOR },
    bodyEnd: /data: \[DONE\]\n\n$/,
    stream: true,
  },
  // Codex CLI's request: its `originator` header makes the gateway inject codex.rate_limits before
  // the terminal event, so this is the path Codex users put through the gateway.
  responsesStream: {
    path: '/v1/responses',
    body: JSON.stringify({ model: 'gpt-5-codex', input: PROMPT, stream: true }),
    headers: { 'x-fake-behavior': STREAM_BEHAVIOR, originator: 'codex_cli_rs' },
    bodyEnd: /\nevent: response\.completed\ndata: [^\n]*\n\n$/,
    stream: true,
  },
  // The vendors put usage after the text: a gateway reading it has to get through all 20 MiB first.
  large: {
    path: '/v1/chat/completions',
    body: CHAT_BODY,
    headers: { 'x-fake-behavior': `bytes=${LARGE_BYTES}` },
    bodyEnd: /"usage":\{"prompt_tokens":\d+.*\}$/,
    stream: false,
  },
} satisfies Record<string, Workload>;

/** A load ends at whichever comes first. */
export interface Bound {
  ms: number;
  requests: number;
}

export type LoadPhaseName = Exclude<PhaseName, 'mixed'>;

export interface PhaseDef {
  name: LoadPhaseName;
  workload: Workload;
  connections: number;
  /** Each target's load in one round. */
  round: Bound;
  /** Each target's load before the phase's first round. */
  warmup: Bound;
  /** The run-wide JIT warm-up on this workload before the first phase; null: none. */
  jitWarmup: { connections: number; bound: Bound } | null;
  /** Part of the mixed phase's load (mixedPhase.ts). */
  inMixed: boolean;
}

export function phaseDefs(quick: boolean): PhaseDef[] {
  const scale = quick ? 0.25 : 1;
  const timed = (ms: number, requests: number): Bound => ({ ms: ms * scale, requests });
  const jitWarmup = (ms: number): PhaseDef['jitWarmup'] => ({ connections: 8, bound: timed(ms, 30_000) });
  // A stream runs far more of the gateway's code than of the forwarder's (SSE framing, metering, the
  // hold and its charge), and V8 finishes optimising it only after ~1,500 streams: profiled in 800-stream
  // rounds from a fresh gateway, its CPU per stream fell 1.83 → 1.56 → 1.39 → 1.30 → 1.31 ms, the
  // first round's extra time in TurboFan's compiler. A phase measures the steady state, so a stream phase
  // warms up for a count of streams (~4 s), not a time that ended inside that climb.
  const streamWarmup: Bound = { ms: 8_000 * scale, requests: quick ? 100 : 1_500 };
  // c1 runs after the stream warm-ups, and one connection takes paths of its own (a commit per write,
  // no batches): V8 optimises them again only after a few thousand requests. With a 400 ms warm-up the
  // gateway's first round cost 1.13–1.51× its later rounds' CPU per request in 12 runs (median 1.29×;
  // raw's 1.05×), and a profile of that round showed Node's HTTP functions and http-proxy's running
  // unoptimised. After 4,000 requests (~2 s) that profile's first round read like the others; over the
  // next seven runs the first round's excess, divided by raw's, read 0.88–1.32 (median 1.06): reduced,
  // not gone.
  const c1Warmup: Bound = { ms: 20_000 * scale, requests: quick ? 100 : 4_000 };
  return [
    { name: 'c1', workload: WORKLOADS.chat, connections: 1, round: timed(2_000, 10_000), warmup: c1Warmup, jitWarmup: jitWarmup(800), inMixed: true },
    { name: 'c32', workload: WORKLOADS.chat, connections: 32, round: timed(2_000, 30_000), warmup: timed(400, 30_000), jitWarmup: jitWarmup(800), inMixed: true },
    { name: 'stream', workload: WORKLOADS.chatStream, connections: 32, round: timed(3_000, 5_000), warmup: streamWarmup, jitWarmup: jitWarmup(1_000), inMixed: true },
    { name: 'responses', workload: WORKLOADS.responsesStream, connections: 32, round: timed(3_000, 5_000), warmup: streamWarmup, jitWarmup: jitWarmup(1_000), inMixed: true },
    // Counted, not timed: a few 20 MiB answers, two at a time (the time bound only guards a stuck run).
    // Each round runs in a fresh raw and gateway (largePhase.ts), so no run-wide warm-up.
    {
      name: 'large',
      workload: WORKLOADS.large,
      connections: 2,
      round: { ms: 60_000, requests: quick ? 2 : 4 },
      warmup: { ms: 60_000, requests: 2 },
      jitWarmup: null,
      // Measured on its own against the forwarder (raw + 30 MiB): a 20 MiB answer needs ~20 MiB of
      // socket buffers and chunks in any proxy (the bare forwarder peaks past 100 MiB on it too), so in
      // the mixed phase it would measure the answer's size, not what the gateway keeps over a day.
      inMixed: false,
    },
  ];
}

/**
 * The mixed phase: the loads of the phases marked `inMixed` (1 and 32 connections, Chat and Responses
 * streams: the all-day load), ROUNDS times over, in the same raw and gateway processes. Each
 * load gets `seconds / (rounds × loads)` per target, so `seconds` bounds each target's time under load.
 */
export const MIXED_ROUNDS = 2;
export const DEFAULT_MIXED_SECONDS = 60;
