/**
 * Per-process CPU time and resident memory from /proc (Linux), so each of the benchmark's server
 * processes is charged only for its own work: CPU = utime + stime of /proc/<pid>/stat in clock ticks,
 * RSS = VmRSS of /proc/<pid>/status, sampled while a phase runs.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

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

/** CPU time (user + system) the process has used so far, in milliseconds. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Field 3 (state) is fields[0]; utime is field 14, stime field 15.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / clkTck();
}

/** Resident set size in MiB, or null when the process is gone. */
export function rssMiB(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Samples the RSS of some processes every `everyMs` and keeps the maximum of each. */
export class RssSampler {
  private readonly max = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pids: readonly number[],
    everyMs = 50,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  /** Stops sampling (after a last sample) and returns pid → max RSS in MiB. */
  stop(): Map<number, number> {
    clearInterval(this.timer);
    this.sample();
    return this.max;
  }

  private sample(): void {
    for (const pid of this.pids) {
      const rss = rssMiB(pid);
      if (rss !== null && rss > (this.max.get(pid) ?? 0)) this.max.set(pid, rss);
    }
  }
}
