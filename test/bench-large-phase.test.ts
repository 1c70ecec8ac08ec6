/**
 * How the benchmark's large phase combines its rounds (test/bench/largePhase.ts): each round's
 * requests and CPU add up, and the reported peak RSS is the median of the rounds' fresh processes.
 */
import { describe, expect, it } from 'vitest';
import { median } from './bench/largePhase';
import type { LoadResult } from './bench/loadClient';
import { TargetAccumulator } from './bench/report';

const load = (latenciesMs: number[], errors: number, statuses: Record<number, number>): LoadResult => ({
  latenciesMs,
  ttfbMs: [],
  elapsedMs: 1_000,
  errors,
  statuses,
  missingHeader: 0,
  badBody: errors,
  socketErrors: 0,
});

describe('the median of the rounds’ peaks', () => {
  it('is the middle value of an odd count, whatever the order', () => {
    expect(median([133.2, 101.0, 104.5])).toBe(104.5);
    expect(median([90.2])).toBe(90.2);
  });

  it('is the mean of the middle two of an even count', () => {
    expect(median([120, 100, 110, 90])).toBe(105);
  });

  it('is null without rounds, and leaves its input in order', () => {
    expect(median([])).toBeNull();
    const peaks = [3, 1, 2];
    median(peaks);
    expect(peaks).toEqual([3, 1, 2]);
  });
});

describe('a target’s figures over several rounds', () => {
  it('adds each round’s requests, errors, statuses and CPU', () => {
    const first = new TargetAccumulator();
    first.add(load([10, 20], 1, { 200: 2, 502: 1 }), 30, 4);
    const second = new TargetAccumulator();
    second.add(load([30], 0, { 200: 1 }), 12, null);
    const total = new TargetAccumulator();
    total.absorb(first);
    total.absorb(second);
    expect(total.latenciesMs).toEqual([10, 20, 30]);
    expect(total.ok).toBe(3);
    expect(total.errors).toBe(1);
    expect(total.badBody).toBe(1);
    expect(total.statuses).toEqual({ 200: 3, 502: 1 });
    expect(total.cpuMs).toBe(42);
    expect(total.serverCpuMs).toBe(4);
    expect(total.elapsedMs).toBe(2_000);
    expect(total.metrics(false).cpuMsPerReq).toBe(10.5);
  });
});
