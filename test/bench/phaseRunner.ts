/**
 * Runs loads against the benchmark's targets and charges each target's own process: a load's CPU
 * time, and the peak RSS over a phase. A phase warms up, then runs rounds that visit the targets in a
 * rotated order, so no target always runs first (cold) or last (after the others' garbage).
 */
import { runLoad, TAIL_BYTES, type LoadResult, type LoadSpec } from './loadClient';
import type { Bound, PhaseDef, Workload } from './phases';
import { cpuMs, PeakRss } from './procStats';
import { TARGETS, TargetAccumulator, type TargetName } from './report';

/** Everything the run needs to know about one target. */
export interface Target {
  name: TargetName;
  /** `http://127.0.0.1:PORT`; a workload adds its path. */
  baseUrl: string;
  /** The server process charged for this target's CPU and RSS. */
  pid: number;
  /** CPU ms used so far by a database server working for this target (the gateway on PostgreSQL); reported beside the target's own. */
  serverCpuMs?: () => number;
}

export interface Load {
  workload: Workload;
  connections: number;
  bound: Bound;
}

/** Every gateway answer (the metering check compares them with the ledger) and the warm-ups' errors. */
export class RunTotals {
  gatewayOk = 0;
  readonly warmupErrors: string[] = [];

  count(target: Target, result: LoadResult): void {
    if (target.name === 'gateway') this.gatewayOk += result.latenciesMs.length;
  }
}

export interface RunContext {
  token: string;
  totals: RunTotals;
  progress(text: string): void;
}

export function loadSpec(target: Target, load: Load, token: string): LoadSpec {
  const { workload } = load;
  return {
    url: target.baseUrl + workload.path,
    headers: { authorization: `Bearer ${token}`, ...workload.headers },
    body: workload.body,
    connections: load.connections,
    requests: load.bound.requests,
    maxMs: load.bound.ms,
    requireHeader: target.name === 'gateway' ? 'x-creditgate-request-id' : undefined,
    requireBodyEnd: workload.bodyEnd,
    timeoutMs: 30_000,
  };
}

/** Runs one load against one target: its result and the CPU time the target's process spent on it. */
export async function measure(target: Target, load: Load, ctx: RunContext): Promise<{ result: LoadResult; cpuMs: number; serverCpuMs: number | null }> {
  const before = cpuMs(target.pid);
  const serverBefore = target.serverCpuMs?.() ?? null;
  const result = await runLoad(loadSpec(target, load, ctx.token));
  const used = cpuMs(target.pid) - before;
  const serverUsed = serverBefore === null ? null : target.serverCpuMs!() - serverBefore;
  ctx.totals.count(target, result);
  return { result, cpuMs: used, serverCpuMs: serverUsed };
}

export async function warmUp(targets: readonly Target[], label: string, load: Load, ctx: RunContext): Promise<void> {
  for (const target of targets) {
    const { result } = await measure(target, load, ctx);
    if (result.errors > 0) ctx.totals.warmupErrors.push(`${label} warm-up ${target.name}: ${result.errors} errors (${JSON.stringify(result.statuses)})`);
  }
}

export function emptyAccumulators(): Record<TargetName, TargetAccumulator> {
  return Object.fromEntries(TARGETS.map((name) => [name, new TargetAccumulator()])) as Record<TargetName, TargetAccumulator>;
}

/** The targets in the order of the given round: each one leads in turn. */
export function rotated<T>(items: readonly T[], round: number): T[] {
  return items.map((_, i) => items[(i + round) % items.length]!);
}

export async function runPhase(targets: readonly Target[], phase: PhaseDef, rounds: number, ctx: RunContext): Promise<Record<TargetName, TargetAccumulator>> {
  const load = (bound: Bound): Load => ({ workload: phase.workload, connections: phase.connections, bound });
  await warmUp(targets, phase.name, load(phase.warmup), ctx);
  const acc = emptyAccumulators();
  const peaks = new PeakRss(targets.map((t) => t.pid));
  try {
    for (let round = 0; round < rounds; round++) {
      for (const target of rotated(targets, round)) {
        const { result, cpuMs: used, serverCpuMs } = await measure(target, load(phase.round), ctx);
        acc[target.name].add(result, used, serverCpuMs);
        const perRequest = result.latenciesMs.length > 0 ? (used / result.latenciesMs.length).toFixed(4) : '–';
        ctx.progress(`${phase.name} round ${round + 1}/${rounds} ${target.name}: ${result.latenciesMs.length} ok, ${result.errors} errors in ${(result.elapsedMs / 1000).toFixed(2)} s, ${perRequest} ms CPU per request`);
      }
    }
  } finally {
    const rss = peaks.stop();
    for (const target of targets) acc[target.name].rssMiB = rss.get(target.pid) ?? null;
  }
  return acc;
}

/** One request of a kind to each target, showing the body when it is not a good 200. */
export async function sanityCheck(targets: readonly Target[], workload: Workload, ctx: RunContext): Promise<void> {
  for (const target of targets) {
    const response = await fetch(target.baseUrl + workload.path, {
      method: 'POST',
      headers: { authorization: `Bearer ${ctx.token}`, 'content-type': 'application/json', ...workload.headers },
      body: workload.body,
    });
    const text = await response.text();
    const where = `${target.name}: POST ${target.baseUrl}${workload.path}`;
    if (response.status !== 200) throw new Error(`${where} answered HTTP ${response.status}: ${text.slice(0, 500)}`);
    if (workload.bodyEnd && !workload.bodyEnd.test(text.slice(-TAIL_BYTES))) throw new Error(`${where}: the body ends unexpectedly: …${text.slice(-500)}`);
    if (target.name === 'gateway' && !response.headers.has('x-creditgate-request-id')) throw new Error('gateway: no x-creditgate-request-id on a 200');
    if (target.name === 'gateway') ctx.totals.gatewayOk++;
  }
}
