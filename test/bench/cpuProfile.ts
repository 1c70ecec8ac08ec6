/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`) by self time, with bundle positions mapped
 * back to the TypeScript sources through the bundle's source map, so hot spots read as
 * `proxy/gateway/meteredExchange.ts:post`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface HotSpot {
  /** `source/file.ts:function` (or a V8 pseudo-frame such as `(garbage collector)`). */
  name: string;
  selfMs: number;
  /** Share of the profile's busy time (all samples but `(idle)`). */
  selfPercent: number;
}

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  top: HotSpot[];
  /** Self time grouped by source file (or `node:internal`, `(native)`, ...). */
  byFile: HotSpot[];
  /** Total (self + callees) time of the project's own functions (proxy/, shared/), recursion counted once. */
  inclusive: HotSpot[];
}

export function summarizeProfile(file: string, topN = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // Each sample's time is the delta to the next sample.
  for (let i = 0; i < samples.length; i++) {
    const next = deltas[i + 1] ?? 0;
    selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + Math.max(0, next));
  }
  const maps = new Map<string, SourceMap | null>();
  const described = new Map<number, { name: string; fileName: string }>();
  const describeNode = (node: ProfileNode): { name: string; fileName: string } => {
    let d = described.get(node.id);
    if (!d) described.set(node.id, (d = describe(node, maps)));
    return d;
  };
  const byName = new Map<string, number>();
  const byFile = new Map<string, number>();
  let idleUs = 0;
  let busyUs = 0;
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    if (us === 0) continue;
    if (node.callFrame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const { name, fileName } = describeNode(node);
    byName.set(name, (byName.get(name) ?? 0) + us);
    byFile.set(fileName, (byFile.get(fileName) ?? 0) + us);
  }

  // Inclusive time: walk the call tree, charging each subtree to every distinct function on its path.
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const inclusive = new Map<string, number>();
  const onPath = new Set<string>();
  const walk = (id: number): number => {
    const node = nodes.get(id);
    if (!node || node.callFrame.functionName === '(idle)') return 0;
    const { name, fileName } = describeNode(node);
    const own = /^(proxy|shared)\//.test(fileName) && !onPath.has(name);
    if (own) onPath.add(name);
    let total = selfUs.get(id) ?? 0;
    for (const child of node.children ?? []) total += walk(child);
    if (own) {
      onPath.delete(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + total);
    }
    return total;
  };
  if (profile.nodes[0]) walk(profile.nodes[0].id);

  const rank = (entries: Map<string, number>, n: number): HotSpot[] =>
    [...entries]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, selfMs: round(us / 1000, 1), selfPercent: round((100 * us) / Math.max(1, busyUs), 1) }));
  return {
    busyMs: round(busyUs / 1000, 1),
    idleMs: round(idleUs / 1000, 1),
    top: rank(byName, topN),
    byFile: rank(byFile, 15),
    inclusive: rank(inclusive, topN),
  };
}

function describe(node: ProfileNode, maps: Map<string, SourceMap | null>): { name: string; fileName: string } {
  const { functionName, url, lineNumber, columnNumber } = node.callFrame;
  const fn = functionName || '(anonymous)';
  if (url === '') return { name: fn, fileName: fn.startsWith('(') ? fn : '(native)' };
  if (url.startsWith('node:')) return { name: `${url}:${fn}`, fileName: url.startsWith('node:internal') ? 'node:internal' : url };
  const filePath = url.startsWith('file:') ? fileURLToPath(url) : url;
  const map = sourceMapFor(filePath, maps);
  const entry = map?.findEntry(lineNumber, columnNumber);
  if (entry && 'originalSource' in entry && entry.originalSource) {
    const source = relativeSource(entry.originalSource, filePath);
    // Anonymous functions (callbacks, arrows) are told apart by the line they start on.
    const label = functionName ? fn : `(anonymous L${entry.originalLine + 1})`;
    return { name: `${source}:${label}`, fileName: source };
  }
  const base = path.basename(filePath);
  return { name: `${base}:${fn}`, fileName: base };
}

function sourceMapFor(file: string, maps: Map<string, SourceMap | null>): SourceMap | null {
  if (!maps.has(file)) {
    const mapFile = `${file}.map`;
    let map: SourceMap | null = null;
    try {
      if (existsSync(mapFile)) map = new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')) as SourceMapPayload);
    } catch {
      map = null;
    }
    maps.set(file, map);
  }
  return maps.get(file) ?? null;
}

/** `../proxy/gateway/x.ts` (relative to dist/) → `proxy/gateway/x.ts`; node_modules paths shortened. */
function relativeSource(source: string, bundle: string): string {
  const absolute = source.startsWith('file:') ? fileURLToPath(source) : path.resolve(path.dirname(bundle), source);
  const relative = path.relative(path.resolve(path.dirname(bundle), '..'), absolute);
  const nodeModules = relative.lastIndexOf('node_modules/');
  return nodeModules >= 0 ? relative.slice(nodeModules) : relative;
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
