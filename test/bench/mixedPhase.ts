/**
 * The mixed phase, a gateway that stays up all day: the everyday loads (PhaseDef.inMixed: every phase
 * but `large`), MIXED_ROUNDS times over, against the raw forwarder and the gateway (the same processes
 * as the rest of the run). What counts is each process's peak RSS over the whole phase; latency and
 * CPU are over the whole mix, so they compare the two targets of this phase only. `direct` takes no
 * part: its row stays empty.
 */
import { emptyAccumulators, measure, rotated, type RunContext, type Target } from './phaseRunner';
import { MIXED_ROUNDS, type LoadPhaseName, type PhaseDef } from './phases';
import { PeakRss, rssMiB } from './procStats';
import type { TargetAccumulator, TargetName } from './report';

/** Each process's peak RSS in MiB while one kind of load ran (against either target). */
export type PeaksByLoad = Partial<Record<LoadPhaseName, Partial<Record<TargetName, number>>>>;

export interface MixedResult {
  acc: Record<TargetName, TargetAccumulator>;
  /** Where the peak came from: the whole phase's peak is the largest of these. */
  peaksByLoad: PeaksByLoad;
}

export async function runMixedPhase(targets: readonly Target[], allDefs: readonly PhaseDef[], seconds: number, ctx: RunContext): Promise<MixedResult> {
  const measured = targets.filter((target) => target.name !== 'direct');
  const defs = mixedLoads(allDefs);
  const sliceMs = (seconds * 1000) / (MIXED_ROUNDS * defs.length);
  const acc = emptyAccumulators();
  const peaksByLoad: PeaksByLoad = {};
  for (let round = 0; round < MIXED_ROUNDS; round++) {
    for (const [index, def] of defs.entries()) {
      // The phase's request cap scaled to the slice: time ends each load.
      const requests = Math.ceil(def.round.requests * Math.max(1, sliceMs / def.round.ms));
      const load = { workload: def.workload, connections: def.connections, bound: { ms: sliceMs, requests } };
      for (const target of rotated(measured, round + index)) {
        // One window per load, over both processes, so together they cover the whole phase.
        const window = new PeakRss(measured.map((t) => t.pid));
        const { result, cpuMs, serverCpuMs } = await measure(target, load, ctx);
        const peaks = window.stop();
        acc[target.name].add(result, cpuMs, serverCpuMs);
        const byTarget = (peaksByLoad[def.name] ??= {});
        for (const t of measured) {
          const peak = peaks.get(t.pid);
          if (peak === undefined) continue;
          byTarget[t.name] = Math.max(byTarget[t.name] ?? 0, peak);
          acc[t.name].rssMiB = Math.max(acc[t.name].rssMiB ?? 0, peak);
        }
        // RSS after each load, so the log shows whether it keeps growing between the peaks.
        ctx.progress(
          `mixed round ${round + 1}/${MIXED_ROUNDS} ${def.name} ${target.name}: ${result.latenciesMs.length} ok, ${result.errors} errors in ${(result.elapsedMs / 1000).toFixed(2)} s, ` +
            `RSS now ${rssMiB(target.pid)?.toFixed(1) ?? '?'} MiB`,
        );
      }
    }
  }
  return { acc, peaksByLoad };
}

/** The loads the mixed phase runs, in their phases' order. */
export function mixedLoads(defs: readonly PhaseDef[]): PhaseDef[] {
  return defs.filter((def) => def.inMixed);
}
