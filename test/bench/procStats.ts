/**
 * Per-process CPU time and resident memory from /proc (Linux), so each of the benchmark's server
 * processes is charged only for its own work: CPU = utime + stime of /proc/<pid>/stat in clock ticks,
 * RSS = VmRSS of /proc/<pid>/status, peak RSS over a phase = VmHWM after a reset (see PeakRss).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

let clockTicks: number | null = null;

/** Clock ticks per second (`getconf CLK_TCK`, 100 on Linux nearly everywhere). */
export function clkTck(): number {
  if (clockTicks === null) {
    try {
      const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
      clockTicks = Number.isInteger(value) && value > 0 ? value : 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** The fields of /proc/<pid>/stat after the command name; fields[0] is field 3 (state). */
function statFields(pid: number | string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name is in parentheses and may itself contain spaces.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

const ticksToMs = (ticks: number): number => (ticks * 1000) / clkTck();

/** CPU time (user + system) the process has used so far, in milliseconds. */
export function cpuMs(pid: number): number {
  const fields = statFields(pid);
  // utime is field 14, stime field 15.
  return ticksToMs(Number(fields[11]) + Number(fields[12]));
}

/**
 * CPU time of a process and its children so far, in milliseconds: its own, its reaped children's
 * (cutime + cstime, fields 16 and 17) and each live child's. A PostgreSQL server is such a tree: one
 * backend process per connection under the postmaster.
 */
export function treeCpuMs(pid: number): number {
  const fields = statFields(pid);
  let ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const child = statFields(entry);
      // ppid is field 4.
      if (Number(child[1]) === pid) ticks += Number(child[11]) + Number(child[12]);
    } catch {
      // gone meanwhile (its time is in the parent's cutime once reaped)
    }
  }
  return ticksToMs(ticks);
}

/** Resident set size in MiB, or null when the process is gone. */
export function rssMiB(pid: number): number | null {
  const kib = statusKiB(pid, 'VmRSS');
  return kib === null ? null : kib / 1024;
}

/** A `kB` field of /proc/<pid>/status, or null when the process (or the field) is not there. */
function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/**
 * The peak RSS of some processes over a span. Where Linux lets us reset a process's high-water mark
 * (`5` into /proc/<pid>/clear_refs), the kernel's VmHWM at the end is the exact peak: a 20 MB body
 * can come and go between two samples. Elsewhere RSS is sampled every `everyMs` instead.
 */
export class PeakRss {
  private readonly tracked = new Set<number>();
  private readonly sampled = new Map<number, number>();
  private readonly sampledPids: number[] = [];
  private readonly timer: NodeJS.Timeout | null = null;

  constructor(pids: readonly number[], everyMs = 50) {
    for (const pid of pids) {
      if (resetPeak(pid)) this.tracked.add(pid);
      else this.sampledPids.push(pid);
    }
    if (this.sampledPids.length > 0) {
      this.sample();
      this.timer = setInterval(() => this.sample(), everyMs);
    }
  }

  /** Ends the span and returns pid → peak RSS in MiB (a process that is gone has no entry). */
  stop(): Map<number, number> {
    if (this.timer) clearInterval(this.timer);
    this.sample();
    const peaks = new Map(this.sampled);
    for (const pid of this.tracked) {
      const peak = statusKiB(pid, 'VmHWM');
      if (peak !== null) peaks.set(pid, peak / 1024);
    }
    return peaks;
  }

  private sample(): void {
    for (const pid of this.sampledPids) {
      const rss = rssMiB(pid);
      if (rss !== null && rss > (this.sampled.get(pid) ?? 0)) this.sampled.set(pid, rss);
    }
  }
}

function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return statusKiB(pid, 'VmHWM') !== null;
  } catch {
    return false;
  }
}
