/**
 * The large phase: 20 MiB non-streaming answers, run in fresh raw and gateway processes (trials), not
 * in the ones the other phases use, and judged on the median of the trials' peak RSS.
 *
 * Why fresh processes and a median: the peak on these answers is set by when V8 happens to collect
 * the read buffers already relayed. Most of the time a scavenge frees them every ~28 MiB; when an
 * incremental mark-compact is under way instead (its pace is set by the JS heap's allocation, which a
 * relay barely touches), garbage buffers pile up until it finishes. One process's peak is therefore
 * one draw: six fresh gateways with the same flags peaked at 101–133 MiB on the same answers and the
 * bare forwarder at 90–97, and after the mixed phase (as this phase used to run) the forwarder read
 * 97.7 in one full run and 122–129 in the others. The median of three pairs is a figure a rerun
 * repeats, and fresh processes keep the mixed phase's leftovers out of it (and its garbage out of theirs).
 */
import path from 'node:path';
import { checkMetering, meteredCount, startGateway, type GatewayOptions, type MeteringCheck } from './benchGateway';
import { emptyAccumulators, runPhase, RunTotals, sanityCheck, type RunContext, type Target } from './phaseRunner';
import type { PhaseDef } from './phases';
import { LISTENING, startChild, stopChild } from './processes';
import { TARGETS, type TargetName } from './report';

export interface LargeSetup {
  /** Where the trials' gateways keep their files. */
  dir: string;
  /** The benchmark bundle: its `--role raw` is the forwarder. */
  self: string;
  /** The shared fake upstream (the `direct` target). */
  upstream: Target;
  gateway: Omit<GatewayOptions, 'client' | 'profile'>;
  /** CPU of a database server behind the gateway (PostgreSQL). */
  serverCpuMs?: () => number;
}

export interface LargeResult {
  /** Each target's requests and CPU over the trials; its RSS is the median of the trials' peaks. */
  acc: ReturnType<typeof emptyAccumulators>;
  metering: MeteringCheck[];
  warmupErrors: string[];
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export async function runLargePhase(def: PhaseDef, trials: number, setup: LargeSetup, progress: (text: string) => void): Promise<LargeResult> {
  const acc = emptyAccumulators();
  const peaks = Object.fromEntries(TARGETS.map((name) => [name, [] as number[]])) as Record<TargetName, number[]>;
  const metering: MeteringCheck[] = [];
  const warmupErrors: string[] = [];
  for (let trial = 1; trial <= trials; trial++) {
    const since = Date.now();
    const [raw, gateway] = await Promise.all([
      startChild('raw', [setup.self, '--role', 'raw', '--target', setup.upstream.baseUrl], LISTENING, setup.gateway.env),
      // Its own client name: on PostgreSQL the trials share the team ledger with the main gateway.
      startGateway(path.join(setup.dir, `large-${trial}`), { ...setup.gateway, profile: false, client: `bench-large-${trial}` }),
    ]);
    try {
      const targets: Target[] = [
        setup.upstream,
        { name: 'raw', baseUrl: raw.match[1]!, pid: raw.child.pid },
        { name: 'gateway', baseUrl: gateway.url, pid: gateway.child.pid, ...(setup.serverCpuMs ? { serverCpuMs: setup.serverCpuMs } : {}) },
      ];
      const totals = new RunTotals();
      const ctx: RunContext = { token: gateway.token, totals, progress };
      const meteredBefore = await meteredCount(gateway);
      progress(`phase large, trial ${trial}/${trials}: fresh raw (pid ${raw.child.pid}) and gateway (pid ${gateway.child.pid})`);
      await sanityCheck(targets, def.workload, ctx);
      const trialAcc = await runPhase(targets, def, 1, ctx);
      for (const name of TARGETS) {
        acc[name].absorb(trialAcc[name]);
        const peak = trialAcc[name].rssMiB;
        if (peak !== null) peaks[name].push(peak);
      }
      progress(`phase large, trial ${trial}/${trials}: peak RSS raw ${trialAcc.raw.rssMiB?.toFixed(1)} MiB, gateway ${trialAcc.gateway.rssMiB?.toFixed(1)} MiB`);
      metering.push(await checkMetering(gateway, meteredBefore, totals.gatewayOk, since - 60_000));
      warmupErrors.push(...totals.warmupErrors);
    } finally {
      await Promise.all([stopChild(raw.child), stopChild(gateway.child, 10_000)]);
    }
  }
  for (const name of TARGETS) acc[name].rssMiB = median(peaks[name]);
  return { acc, metering, warmupErrors };
}
