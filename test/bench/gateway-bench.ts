/**
 * Gateway benchmark (docs/product.md §7): the fake upstream (`direct`), a bare http-proxy forwarder (`raw`) and
 * the gateway (`dist/cli.js serve`, `gateway`), each its own process so CPU and RSS are attributable,
 * measured in one interleaved run on loopback: every phase runs several rounds, each round visits
 * the three targets in a rotated order, and the rounds are aggregated.
 *
 *   npm run bench                 table + PASS/FAIL lines against the gateway's targets
 *   npm run bench -- --json       the same on stderr; stdout's last line is the docs/product.md §7 JSON object
 *   npm run bench -- --cpu-prof   also profile the gateway (node --cpu-prof) and list its hot spots;
 *                                 the profiler's overhead is in that run's numbers
 *   --rounds N (default 3), --quick (1 round, short phases: a smoke test, not a measurement)
 *   --phases c1,large,…           run only these phases (default: all)
 *   --mixed-seconds S (default 60) each target's time under load in the mixed phase, at most
 *   --store postgres              the gateway as a team instance (`serve --database URL`) on a
 *                                 throwaway PostgreSQL server the bench starts and stops (benchLedger.ts),
 *                                 against issue 10's targets; --fsync off runs that server without
 *                                 fsync (default on, as in production). Default: --store sqlite
 *
 * Phases (phases.ts): c1 (non-streaming Chat Completions, 1 connection), c32 (the same, 32
 * connections), stream (streaming Chat Completions, 32 concurrent, the upstream spacing its 20 deltas
 * 5 ms apart), responses (the same as Codex CLI's Responses streams), large (20 MiB non-streaming
 * answers, 2 at a time, each round in a fresh raw and gateway; the median peak RSS is what counts;
 * largePhase.ts), mixed (all of those but large twice over in the same
 * raw and gateway processes: the peak RSS of a gateway that stays up; mixedPhase.ts).
 *
 * Exits non-zero when a process fails to start or dies, or when a response was not a good 200 (or a
 * gateway request went unmetered): those numbers would describe a broken path. A missed target is
 * reported, not an error.
 *
 * The same bundle serves as the benchmark's own children: `--role upstream`, `--role raw --target URL`.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { summarizeProfile } from './cpuProfile';
import { checkMetering, meteredCount, startGateway, type BenchGateway } from './benchGateway';
import { runLargePhase } from './largePhase';
import { mixedLoads, runMixedPhase, type PeaksByLoad } from './mixedPhase';
import { runPhase, RunTotals, sanityCheck, warmUp, type RunContext, type Target } from './phaseRunner';
import { DEFAULT_MIXED_SECONDS, LARGE_BYTES, MIXED_ROUNDS, phaseDefs, STREAM_BEHAVIOR, WORKLOADS, type PhaseDef, type Workload } from './phases';
import { openBenchLedger, parseStore } from './benchLedger';
import { cleanUp, cleanUpNow, LISTENING, onUnexpectedExit, registerCloser, registerTempDir, removeStaleTempDirs, startChild, stopChild } from './processes';
import { rssMiB } from './procStats';
import {
  checkTargets,
  formatChecks,
  formatDatabaseCpu,
  formatPeaksByLoad,
  formatRatios,
  formatTable,
  machineInfo,
  PHASES,
  STORE_LIMITS,
  TARGETS,
  type BenchReport,
  type PhaseMetrics,
  type PhaseName,
  type TargetAccumulator,
  type TargetName,
} from './report';
import { runRawRole, runUpstreamRole } from './roles';

const { values: args } = parseArgs({
  options: {
    role: { type: 'string' },
    target: { type: 'string' },
    json: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    quick: { type: 'boolean', default: false },
    phases: { type: 'string', default: PHASES.join(',') },
    'mixed-seconds': { type: 'string' },
    store: { type: 'string', default: 'sqlite' },
    fsync: { type: 'string', default: 'on' },
  },
  strict: true,
});

const TEMP_PREFIX = 'creditgate-bench-';

// stdout carries only the JSON line with --json; everything readable goes to stderr then.
const out = (text: string): void => {
  if (args.json) process.stderr.write(`${text}\n`);
  else process.stdout.write(`${text}\n`);
};
const progress = (text: string): void => void process.stderr.write(`[bench] ${text}\n`);

/** The environment of the servers: no real keys, nothing of a Creditgate the user may run. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('CREDITGATE_') || name === 'OPENAI_API_KEY' || name === 'ANTHROPIC_API_KEY' || name === 'NODE_OPTIONS') continue;
    env[name] = value;
  }
  return env;
}

function chosenPhases(list: string): Set<PhaseName> {
  const names = list.split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = names.filter((name) => !(PHASES as readonly string[]).includes(name));
  if (unknown.length > 0 || names.length === 0) throw new Error(`--phases takes a comma list of ${PHASES.join(', ')}`);
  return new Set(names as PhaseName[]);
}

async function stopGatewayAndProfile(gateway: BenchGateway): Promise<void> {
  await stopChild(gateway.child, 10_000);
  if (!gateway.profileDir || !existsSync(gateway.profileDir)) return;
  const file = readdirSync(gateway.profileDir).find((name) => name.endsWith('.cpuprofile'));
  if (!file) {
    progress('no CPU profile was written (the gateway did not exit cleanly?)');
    return;
  }
  const keepDir = path.resolve('.cache', 'bench');
  mkdirSync(keepDir, { recursive: true });
  const kept = path.join(keepDir, `gateway-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
  copyFileSync(path.join(gateway.profileDir, file), kept);
  const summary = summarizeProfile(kept);
  out(`\nGateway CPU profile (${kept}; open in Chrome DevTools or VS Code): busy ${summary.busyMs} ms, idle ${summary.idleMs} ms`);
  out('Self time by function:');
  for (const spot of summary.top) out(`  ${spot.selfPercent.toFixed(1).padStart(5)}%  ${spot.selfMs.toFixed(1).padStart(8)} ms  ${spot.name}`);
  out('Self time by file:');
  for (const spot of summary.byFile) out(`  ${spot.selfPercent.toFixed(1).padStart(5)}%  ${spot.selfMs.toFixed(1).padStart(8)} ms  ${spot.name}`);
  out("Total (inclusive) time of the gateway's own functions:");
  for (const spot of summary.inclusive) out(`  ${spot.selfPercent.toFixed(1).padStart(5)}%  ${spot.selfMs.toFixed(1).padStart(8)} ms  ${spot.name}`);
}

async function main(): Promise<number> {
  const rounds = args.quick ? 1 : Number(args.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer');
  const mixedSeconds = Number(args['mixed-seconds'] ?? (args.quick ? DEFAULT_MIXED_SECONDS / 8 : DEFAULT_MIXED_SECONDS));
  if (!(mixedSeconds > 0)) throw new Error('--mixed-seconds must be a positive number');
  const chosen = chosenPhases(args.phases);
  const store = parseStore(args.store);
  if (args.fsync !== 'on' && args.fsync !== 'off') throw new Error('--fsync takes on or off');
  const started = Date.now();
  const machine = machineInfo();
  const env = childEnv();
  removeStaleTempDirs(os.tmpdir(), TEMP_PREFIX);
  const tmp = mkdtempSync(path.join(os.tmpdir(), TEMP_PREFIX));
  registerTempDir(tmp);
  onUnexpectedExit((child, code, signal) => {
    progress(`${child.name} (pid ${child.pid}) exited during the run (code ${code}, signal ${signal}); stderr:\n${child.stderr()}`);
    void cleanUp().finally(() => process.exit(1));
  });

  if (store === 'postgres') progress(`starting a throwaway PostgreSQL server (fsync ${args.fsync})`);
  const ledger = await openBenchLedger(store, args.fsync === 'on');
  registerCloser(() => ledger.close());

  const self = process.argv[1]!;
  progress(`starting the fake upstream, the raw forwarder and the gateway (ledger on ${store})`);
  const upstream = await startChild('upstream', [self, '--role', 'upstream'], LISTENING, env);
  const upstreamUrl = upstream.match[1]!;
  const [raw, gateway] = await Promise.all([
    startChild('raw', [self, '--role', 'raw', '--target', upstreamUrl], LISTENING, env),
    startGateway(path.join(tmp, 'gateway'), { upstreamUrl, ledger, env, profile: args['cpu-prof'], client: 'bench' }),
  ]);
  const targets: Target[] = [
    { name: 'direct', baseUrl: upstreamUrl, pid: upstream.child.pid },
    { name: 'raw', baseUrl: raw.match[1]!, pid: raw.child.pid },
    { name: 'gateway', baseUrl: gateway.url, pid: gateway.child.pid, ...(ledger.serverCpuMs ? { serverCpuMs: ledger.serverCpuMs } : {}) },
  ];
  progress(`pids: upstream ${upstream.child.pid}, raw ${raw.child.pid}, gateway ${gateway.child.pid}`);
  // Before any traffic: what each process costs just by being up (modules, tables, heap).
  const idleRss = targets.map((t) => `${t.name} ${rssMiB(t.pid)?.toFixed(1) ?? '?'}`).join(', ');

  const totals = new RunTotals();
  const meteredBefore = await meteredCount(gateway);
  const ctx: RunContext = { token: gateway.token, totals, progress };
  // The first request of a kind goes alone, so a broken path fails at once and shows its body. Not
  // earlier than the kind's first use: a 20 MiB answer would inflate the other phases' RSS.
  const checked = new Set<Workload>();
  const checkOnce = async (workload: Workload): Promise<void> => {
    if (checked.has(workload)) return;
    checked.add(workload);
    await sanityCheck(targets, workload, ctx);
  };

  // JIT warm-up on every kind of request, then each phase warms up again with its own settings.
  const defs = phaseDefs(args.quick);
  progress('warming up');
  for (const def of defs) {
    if (!def.jitWarmup) continue;
    await checkOnce(def.workload);
    await warmUp(targets, def.name, { workload: def.workload, ...def.jitWarmup }, ctx);
  }

  const accumulated: Partial<Record<PhaseName, Record<TargetName, TargetAccumulator>>> = {};
  const runLoadPhase = async (def: PhaseDef): Promise<void> => {
    if (!chosen.has(def.name)) return;
    await checkOnce(def.workload);
    progress(`phase ${def.name}: ${rounds} round(s) × ${TARGETS.length} targets × ${def.round.requests} requests or ${def.round.ms} ms, ${def.connections} connection(s)`);
    accumulated[def.name] = await runPhase(targets, def, rounds, ctx);
  };
  const everyday = mixedLoads(defs);
  for (const def of everyday) await runLoadPhase(def);
  let peaksByLoad: PeaksByLoad | null = null;
  if (chosen.has('mixed')) {
    for (const def of everyday) await checkOnce(def.workload);
    progress(`phase mixed: ${MIXED_ROUNDS} rounds of ${everyday.map((d) => d.name).join(', ')} against raw and gateway, ${mixedSeconds} s each at most`);
    const mixed = await runMixedPhase(targets, defs, mixedSeconds, ctx);
    accumulated.mixed = mixed.acc;
    peaksByLoad = mixed.peaksByLoad;
  }
  // Every gateway response was a 200 with its request id; now check each was also metered, exactly.
  const metering = [await checkMetering(gateway, meteredBefore, totals.gatewayOk, started - 60_000)];
  const problems: string[] = [...totals.warmupErrors];

  // The large answers run in fresh processes of their own, one pair per round (largePhase.ts).
  const largeDef = defs.find((def) => def.name === 'large');
  if (largeDef && chosen.has('large')) {
    progress(`phase large: ${rounds} trial(s), each a fresh raw and gateway, ${largeDef.round.requests} answers after ${largeDef.warmup.requests} of warm-up, ${largeDef.connections} at a time`);
    const large = await runLargePhase(largeDef, rounds, {
      dir: tmp,
      self,
      upstream: targets[0]!,
      gateway: { upstreamUrl, ledger, env },
      ...(ledger.serverCpuMs ? { serverCpuMs: ledger.serverCpuMs } : {}),
    }, progress);
    accumulated.large = large.acc;
    metering.push(...large.metering);
    problems.push(...large.warmupErrors);
  }
  for (const check of metering) problems.push(...check.problems);
  const sum = (pick: (check: (typeof metering)[number]) => number): number => metering.reduce((total, check) => total + pick(check), 0);

  const phases: Partial<Record<PhaseName, PhaseMetrics>> = {};
  const counts: Partial<Record<PhaseName, Record<TargetName, { ok: number; errors: number }>>> = {};
  const databaseCpu: Partial<Record<PhaseName, number | null>> = {};
  for (const phase of PHASES) {
    const acc = accumulated[phase];
    if (!acc) continue;
    const withTtfb = defs.find((def) => def.name === phase)?.workload.stream ?? false;
    phases[phase] = Object.fromEntries(TARGETS.map((t) => [t, acc[t].metrics(withTtfb)])) as PhaseMetrics;
    counts[phase] = Object.fromEntries(TARGETS.map((t) => [t, { ok: acc[t].ok, errors: acc[t].errors }])) as Record<TargetName, { ok: number; errors: number }>;
    for (const t of TARGETS) if (acc[t].errors > 0) problems.push(`${phase} ${t}: ${acc[t].describeErrors()}`);
    if (ledger.serverCpuMs) databaseCpu[phase] = acc.gateway.serverCpuMsPerReq();
  }

  await stopGatewayAndProfile(gateway);
  // Measured on the quiet server, before it stops: what the gateway's two commits per request cost at least.
  const durableCommitMs = ledger.durableCommitMs ? await ledger.durableCommitMs() : null;
  await cleanUp();

  const storeReport: BenchReport['store'] = {
    name: store,
    fsync: ledger.durable,
    ...(durableCommitMs === null ? {} : { durableCommitP50Ms: Number(durableCommitMs.toFixed(3)) }),
  };
  const report: BenchReport = { machine, phases, store: storeReport, ...(ledger.serverCpuMs ? { databaseCpuMsPerReq: databaseCpu } : {}) };
  out('');
  const where = store === 'postgres' ? `PostgreSQL on loopback (serve --database, fsync ${args.fsync})` : 'SQLite (its data directory)';
  out(`Creditgate gateway benchmark — ${machine.cpus} × ${machine.model}, Node ${machine.node}; ${rounds} interleaved round(s) per phase${args.quick ? ' (--quick: smoke test only)' : ''}${args['cpu-prof'] ? ' (gateway under --cpu-prof)' : ''}`);
  out(`The gateway's ledger: ${where}.`);
  out(
    `c1/c32: POST ${WORKLOADS.chat.path} model gpt-5, ${WORKLOADS.chat.body.length} B body; stream/responses: 32 concurrent Chat / Responses (Codex) streams, x-fake-behavior ${STREAM_BEHAVIOR}; ` +
      `large: ${LARGE_BYTES / 1024 / 1024} MiB answers, usage last; mixed: ${mixedLoads(defs).map((d) => d.name).join(', ')} ${MIXED_ROUNDS}× over, raw and gateway only, ${mixedSeconds} s each at most.`,
  );
  out('cpu = that target\'s own server process; ttfb = first body byte; rss = peak over the phase.');
  out(formatTable(phases, counts));
  out(`RSS (MiB) right after start, before any request: ${idleRss}.`);
  out('');
  out(formatRatios(phases));
  out('');
  if (peaksByLoad) {
    out(formatPeaksByLoad(peaksByLoad));
    out('');
  }
  if (ledger.serverCpuMs) {
    out(formatDatabaseCpu(phases, databaseCpu));
    out("(the targets compare the gateway's own process, as for SQLite, whose ledger work is inside it; this is the server's share besides)");
    if (durableCommitMs !== null) {
      out(
        `PostgreSQL's floor here: a one-row INSERT committed on its own takes ${durableCommitMs.toFixed(3)} ms (p50 round trip). A metered request ` +
          `waits for two commits (its hold before it is forwarded, its charge before its last byte): at least ${(2 * durableCommitMs).toFixed(3)} ms over raw.`,
      );
    }
    out('');
  }
  out(formatChecks(checkTargets(phases, STORE_LIMITS[store])));
  out(`gateway requests metered: ${sum((c) => c.metered)} of ${sum((c) => c.answered)} answered (usage rows estimated/not 200: ${sum((c) => c.estimated)}); total time ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (problems.length > 0) {
    out('\nINVALID RUN — these numbers are of a broken path:');
    for (const problem of problems) out(`  ${problem}`);
  }
  if (args.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  return problems.length > 0 ? 1 : 0;
}

function runBench(): void {
  process.on('exit', cleanUpNow);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      progress(`${signal}: stopping the servers`);
      void cleanUp().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      progress(`failed: ${error instanceof Error ? error.message : String(error)}`);
      void cleanUp().finally(() => process.exit(1));
    },
  );
}

function runRole(role: string): void {
  const started = role === 'upstream' ? runUpstreamRole() : role === 'raw' && args.target ? runRawRole(args.target) : null;
  if (!started) {
    console.error(role === 'raw' ? '--role raw needs --target URL' : `unknown --role ${role}`);
    process.exit(2);
  }
  started.catch((error: unknown) => {
    console.error(`--role ${role} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  });
}

if (args.role !== undefined) runRole(args.role);
else runBench();

