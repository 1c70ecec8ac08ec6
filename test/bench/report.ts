/**
 * Aggregation, the readable table, the docs/product.md §7 JSON shape, and the performance targets with their
 * PASS/FAIL lines.
 */
import os from 'node:os';
import type { StoreName } from './benchLedger';
import type { LoadResult } from './loadClient';
import { percentile } from './loadClient';
import { clkTck } from './procStats';

export const TARGETS = ['direct', 'raw', 'gateway'] as const;
export type TargetName = (typeof TARGETS)[number];
export const PHASES = ['c1', 'c32', 'stream', 'responses', 'large', 'mixed'] as const;
export type PhaseName = (typeof PHASES)[number];

/** docs/product.md §7, per target per phase; null where a field does not apply. */
export interface TargetMetrics {
  p50Ms: number | null;
  p99Ms: number | null;
  rps: number | null;
  cpuMsPerReq: number | null;
  ttfbP50Ms: number | null;
  ttfbP99Ms: number | null;
  rssMiB: number | null;
}

export type PhaseMetrics = Record<TargetName, TargetMetrics>;

export interface BenchReport {
  machine: Record<string, string | number | null>;
  /** Every phase run (all of them unless --phases chose some). */
  phases: Partial<Record<PhaseName, PhaseMetrics>>;
  /**
   * Where the gateway's ledger was (`--store`); `fsync` and the round trip of a one-row durable commit
   * on the same server (benchLedger.ts durableCommitMs) only for PostgreSQL.
   */
  store: { name: StoreName; fsync: boolean | null; durableCommitP50Ms?: number };
  /** PostgreSQL only: its server's CPU per gateway request, by phase (not in the gateway's cpuMsPerReq). */
  databaseCpuMsPerReq?: Partial<Record<PhaseName, number | null>>;
}

/** What one target accumulated over the rounds of a phase. */
export class TargetAccumulator {
  latenciesMs: number[] = [];
  ttfbMs: number[] = [];
  elapsedMs = 0;
  cpuMs = 0;
  ok = 0;
  errors = 0;
  statuses: Record<number, number> = {};
  missingHeader = 0;
  badBody = 0;
  socketErrors = 0;
  rssMiB: number | null = null;
  /** CPU of the database server behind the target (PostgreSQL), null when there is none. */
  serverCpuMs: number | null = null;

  add(result: LoadResult, cpuMs: number, serverCpuMs: number | null = null): void {
    this.absorb({ ...result, ok: result.latenciesMs.length, cpuMs, serverCpuMs });
  }

  /** Adds a load's or another accumulator's requests and CPU (not RSS: how peaks combine is the phase's choice). */
  absorb(other: LoadResult & Pick<TargetAccumulator, 'ok' | 'cpuMs' | 'serverCpuMs'>): void {
    if (other.serverCpuMs !== null) this.serverCpuMs = (this.serverCpuMs ?? 0) + other.serverCpuMs;
    for (const value of other.latenciesMs) this.latenciesMs.push(value);
    for (const value of other.ttfbMs) this.ttfbMs.push(value);
    this.elapsedMs += other.elapsedMs;
    this.cpuMs += other.cpuMs;
    this.ok += other.ok;
    this.errors += other.errors;
    this.missingHeader += other.missingHeader;
    this.badBody += other.badBody;
    this.socketErrors += other.socketErrors;
    for (const [status, count] of Object.entries(other.statuses)) this.statuses[Number(status)] = (this.statuses[Number(status)] ?? 0) + count;
  }

  metrics(withTtfb: boolean): TargetMetrics {
    const requests = this.ok + this.errors;
    return {
      p50Ms: round(percentile(this.latenciesMs, 50), 3),
      p99Ms: round(percentile(this.latenciesMs, 99), 3),
      rps: this.elapsedMs > 0 ? round((this.ok * 1000) / this.elapsedMs, 1) : null,
      cpuMsPerReq: requests > 0 ? round(this.cpuMs / requests, 4) : null,
      ttfbP50Ms: withTtfb ? round(percentile(this.ttfbMs, 50), 3) : null,
      ttfbP99Ms: withTtfb ? round(percentile(this.ttfbMs, 99), 3) : null,
      rssMiB: round(this.rssMiB, 1),
    };
  }

  /** The database server's CPU per request of this target, or null without one. */
  serverCpuMsPerReq(): number | null {
    const requests = this.ok + this.errors;
    return this.serverCpuMs === null || requests === 0 ? null : round(this.serverCpuMs / requests, 4);
  }

  describeErrors(): string {
    const statuses = Object.entries(this.statuses)
      .filter(([status]) => status !== '200')
      .map(([status, count]) => `${count}× HTTP ${status}`);
    const parts = [...statuses];
    if (this.missingHeader) parts.push(`${this.missingHeader} without the expected header`);
    if (this.badBody) parts.push(`${this.badBody} with a truncated body`);
    if (this.socketErrors) parts.push(`${this.socketErrors} socket errors/timeouts`);
    return parts.join(', ');
  }
}

export function round(value: number | null, digits: number): number | null {
  if (value === null || !Number.isFinite(value)) return null;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export function machineInfo(): Record<string, string | number | null> {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    model: cpus[0]?.model.trim() ?? null,
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    kernel: os.release(),
    totalMemMiB: Math.round(os.totalmem() / 1024 / 1024),
    clkTck: clkTck(),
    loadAvg1: round(os.loadavg()[0] ?? null, 2),
  };
}

function cell(value: number | null, digits: number, width: number): string {
  return (value === null ? '–' : value.toFixed(digits)).padStart(width);
}

const PHASE_WIDTH = 10;

export function formatTable(phases: Partial<Record<PhaseName, PhaseMetrics>>, counts: Partial<Record<PhaseName, Record<TargetName, { ok: number; errors: number }>>>): string {
  const header = `${'phase'.padEnd(PHASE_WIDTH)}${'target'.padEnd(9)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'rps'.padStart(9)}${'cpu ms/req'.padStart(12)}${'ttfb p50'.padStart(10)}${'ttfb p99'.padStart(10)}${'rss MiB'.padStart(9)}${'ok'.padStart(8)}${'err'.padStart(6)}`;
  const lines = [header, '-'.repeat(header.length)];
  for (const phase of PHASES) {
    const metrics = phases[phase];
    if (!metrics) continue;
    for (const target of TARGETS) {
      const m = metrics[target];
      const n = counts[phase]?.[target];
      lines.push(
        `${phase.padEnd(PHASE_WIDTH)}${target.padEnd(9)}${cell(m.p50Ms, 3, 9)}${cell(m.p99Ms, 3, 9)}${cell(m.rps, 0, 9)}${cell(m.cpuMsPerReq, 4, 12)}` +
          `${cell(m.ttfbP50Ms, 3, 10)}${cell(m.ttfbP99Ms, 3, 10)}${cell(m.rssMiB, 1, 9)}${String(n?.ok ?? '').padStart(8)}${String(n?.errors ?? '').padStart(6)}`,
      );
    }
  }
  return lines.join('\n');
}

const ratio = (gateway: number | null, raw: number | null): number | null => (gateway !== null && raw ? gateway / raw : null);

/** The gateway's figures as multiples of the raw forwarder's, phase by phase (RSS also as a difference). */
export function formatRatios(phases: Partial<Record<PhaseName, PhaseMetrics>>): string {
  const times = (value: number | null, width: number): string => (value === null ? '–' : `${value.toFixed(2)}×`).padStart(width);
  const header = `${'gateway ÷ raw'.padEnd(PHASE_WIDTH + 9)}${'p50'.padStart(9)}${'p99'.padStart(9)}${'cpu/req'.padStart(12)}${'ttfb p50'.padStart(10)}${'rss'.padStart(9)}${'rss diff'.padStart(12)}`;
  const lines = [header];
  for (const phase of PHASES) {
    const metrics = phases[phase];
    if (!metrics) continue;
    const { gateway, raw } = metrics;
    const rssDiff = gateway.rssMiB !== null && raw.rssMiB !== null ? gateway.rssMiB - raw.rssMiB : null;
    lines.push(
      `${phase.padEnd(PHASE_WIDTH + 9)}${times(ratio(gateway.p50Ms, raw.p50Ms), 9)}${times(ratio(gateway.p99Ms, raw.p99Ms), 9)}` +
        `${times(ratio(gateway.cpuMsPerReq, raw.cpuMsPerReq), 12)}${times(ratio(gateway.ttfbP50Ms, raw.ttfbP50Ms), 10)}` +
        `${times(ratio(gateway.rssMiB, raw.rssMiB), 9)}${(rssDiff === null ? '–' : `${rssDiff >= 0 ? '+' : ''}${rssDiff.toFixed(1)} MiB`).padStart(12)}`,
    );
  }
  return lines.join('\n');
}

/**
 * The mixed phase's peak RSS per kind of load, raw and gateway: where the phase's peak came from. A
 * load's window starts at whatever RSS the load before it left (c1 follows responses in the second round).
 */
export function formatPeaksByLoad(peaks: Partial<Record<PhaseName, Partial<Record<TargetName, number>>>>): string {
  const loads = PHASES.filter((phase) => peaks[phase]);
  const lines = [`${'mixed: peak RSS (MiB) during'.padEnd(30)}${loads.map((load) => load.padStart(10)).join('')}`];
  for (const target of ['raw', 'gateway'] as const) {
    lines.push(`${target.padEnd(30)}${loads.map((load) => cell(peaks[load]?.[target] ?? null, 1, 10)).join('')}`);
  }
  return lines.join('\n');
}

export interface TargetCheck {
  name: string;
  pass: boolean | null;
  detail: string;
}

const fmt = (value: number | null, digits = 3): string => (value === null ? 'n/a' : value.toFixed(digits));

/** The phases whose requests are small: the gateway's CPU per request there is a target. */
const CPU_PHASES = ['c1', 'c32', 'stream', 'responses'] as const;
const STREAM_PHASES = ['stream', 'responses'] as const;
/** Large answers (the median of fresh processes' peaks): a gateway that streams them holds no more than a few chunks, whatever their size. */
export const LARGE_RSS_MARGIN_MIB = 30;
/**
 * A gateway that stays up all day through the everyday loads (the issue's measurement: 1 and 32
 * connections, Chat and Responses streams, two rounds). 20 MiB answers are bounded by the large
 * phase's own target instead: the bare forwarder alone peaks past 100 MiB on them.
 */
export const MIXED_RSS_LIMIT_MIB = 100;

/** The targets that depend on the store (the rest hold for both). */
export interface StoreLimits {
  c1P50MarginMs: number;
  cpuRatio: number;
  ttfbMarginMs: number;
}

/**
 * On PostgreSQL every admission and charge is a round trip to another process (issue 10's targets:
 * 2.5× the forwarder's CPU, c1 p50 within 0.5 ms); on SQLite they are calls into the gateway's own process.
 */
export const STORE_LIMITS: Record<StoreName, StoreLimits> = {
  sqlite: { c1P50MarginMs: 0.3, cpuRatio: 2, ttfbMarginMs: 1 },
  postgres: { c1P50MarginMs: 0.5, cpuRatio: 2.5, ttfbMarginMs: 1 },
};

/**
 * The gateway's performance targets, mostly against the raw forwarder; null `pass` means not
 * measurable. A phase that was not run has no checks.
 */
export function checkTargets(phases: Partial<Record<PhaseName, PhaseMetrics>>, limits: StoreLimits = STORE_LIMITS.sqlite): TargetCheck[] {
  const checks: TargetCheck[] = [];
  if (phases.c1) {
    const { gateway, raw } = phases.c1;
    const limit = raw.p50Ms === null ? null : raw.p50Ms + limits.c1P50MarginMs;
    checks.push({
      name: `c1 latency p50 ≤ raw + ${limits.c1P50MarginMs} ms`,
      pass: gateway.p50Ms === null || limit === null ? null : gateway.p50Ms <= limit,
      detail: `gateway ${fmt(gateway.p50Ms)} ms vs raw ${fmt(raw.p50Ms)} ms (limit ${fmt(limit)}; overhead ${fmt(gateway.p50Ms !== null && raw.p50Ms !== null ? gateway.p50Ms - raw.p50Ms : null)} ms)`,
    });
  }
  for (const phase of CPU_PHASES) {
    if (!phases[phase]) continue;
    const { gateway, raw } = phases[phase];
    const times = ratio(gateway.cpuMsPerReq, raw.cpuMsPerReq);
    checks.push({
      name: `${phase} CPU per request ≤ ${limits.cpuRatio}× raw`,
      pass: times === null ? null : times <= limits.cpuRatio,
      detail: `gateway ${fmt(gateway.cpuMsPerReq, 4)} ms vs raw ${fmt(raw.cpuMsPerReq, 4)} ms (${times === null ? 'n/a' : times.toFixed(2)}×)`,
    });
  }
  for (const phase of STREAM_PHASES) {
    if (!phases[phase]) continue;
    const { gateway, raw } = phases[phase];
    const limit = raw.ttfbP50Ms === null ? null : raw.ttfbP50Ms + limits.ttfbMarginMs;
    checks.push({
      name: `${phase} TTFB p50 ≤ raw + ${limits.ttfbMarginMs} ms`,
      pass: gateway.ttfbP50Ms === null || limit === null ? null : gateway.ttfbP50Ms <= limit,
      detail: `gateway ${fmt(gateway.ttfbP50Ms)} ms vs raw ${fmt(raw.ttfbP50Ms)} ms (limit ${fmt(limit)})`,
    });
  }
  for (const phase of STREAM_PHASES) {
    if (!phases[phase]) continue;
    const { gateway } = phases[phase];
    checks.push({
      name: `${phase} RSS ≤ 100 MiB with 32 concurrent streams`,
      pass: gateway.rssMiB === null ? null : gateway.rssMiB <= 100,
      detail: `gateway peak RSS ${fmt(gateway.rssMiB, 1)} MiB during the ${phase} phase`,
    });
  }
  if (phases.large) {
    const { gateway, raw } = phases.large;
    const limit = raw.rssMiB === null ? null : raw.rssMiB + LARGE_RSS_MARGIN_MIB;
    checks.push({
      name: `large peak RSS ≤ raw + ${LARGE_RSS_MARGIN_MIB} MiB`,
      pass: gateway.rssMiB === null || limit === null ? null : gateway.rssMiB <= limit,
      detail: `gateway ${fmt(gateway.rssMiB, 1)} MiB vs raw ${fmt(raw.rssMiB, 1)} MiB, medians of fresh processes' peaks (limit ${fmt(limit, 1)})`,
    });
  }
  if (phases.mixed) {
    const { gateway, raw } = phases.mixed;
    checks.push({
      name: `mixed peak RSS ≤ ${MIXED_RSS_LIMIT_MIB} MiB over the whole run`,
      pass: gateway.rssMiB === null ? null : gateway.rssMiB <= MIXED_RSS_LIMIT_MIB,
      detail: `gateway ${fmt(gateway.rssMiB, 1)} MiB (raw ${fmt(raw.rssMiB, 1)} MiB) through every load but large, twice`,
    });
  }
  return checks;
}

export function formatChecks(checks: TargetCheck[]): string {
  return checks.map((c) => `${c.pass === null ? 'N/A ' : c.pass ? 'PASS' : 'FAIL'}  ${c.name.padEnd(50)} ${c.detail}`).join('\n');
}

/** PostgreSQL: the database server's CPU per gateway request beside the gateway's own, as multiples of the forwarder's. */
export function formatDatabaseCpu(phases: Partial<Record<PhaseName, PhaseMetrics>>, databaseCpu: Partial<Record<PhaseName, number | null>>): string {
  const header = `${'database server CPU'.padEnd(PHASE_WIDTH + 9)}${'ms/req'.padStart(10)}${'gateway+db ms/req'.padStart(19)}${'(gw+db) ÷ raw'.padStart(15)}`;
  const lines = [header];
  for (const phase of PHASES) {
    const metrics = phases[phase];
    if (!metrics || !(phase in databaseCpu)) continue;
    const db = databaseCpu[phase] ?? null;
    const both = db !== null && metrics.gateway.cpuMsPerReq !== null ? db + metrics.gateway.cpuMsPerReq : null;
    const times = ratio(both, metrics.raw.cpuMsPerReq);
    lines.push(`${phase.padEnd(PHASE_WIDTH + 9)}${cell(db, 4, 10)}${cell(both, 4, 19)}${(times === null ? '–' : `${times.toFixed(2)}×`).padStart(15)}`);
  }
  return lines.join('\n');
}
