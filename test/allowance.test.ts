/**
 * The accounting rules as pure functions (proxy/ledger/allowance.ts), at their boundaries: a window
 * with exactly nothing left, a balance of exactly zero, seats, and windows used up by holds alone.
 */
import { describe, expect, it } from 'vitest';
import type { WindowUse } from '../proxy/ledger/allowance';
import { applicableWindows, decide, spendableFor, splitPlanCharge, windowLengthMs, windowLimit } from '../proxy/ledger/allowance';
import type { PlanDefinition } from '../shared/plans';

const T = Date.UTC(2026, 10, 3, 9);
const HOUR = 3_600_000;

const five = (used: number, endsAt: number | null = T + 5 * HOUR, limit = 1_000): WindowUse => ({ name: '5h', limit, used, endsAt });
const weekly = (used: number, endsAt: number | null = T + 168 * HOUR, limit = 3_000): WindowUse => ({ name: 'weekly', limit, used, endsAt });
const credits = (balance: number, held = 0, autoUse = true) => ({ balance, held, autoUse });

describe('windows of a plan', () => {
  it('multiplies the allowance by the seats, and counts one seat when none is given', () => {
    const team: PlanDefinition = { windows: { '5h': 2.5, weekly: 10 }, features: ['assistant'], seats: 4 };
    expect(windowLimit(team, '5h')).toBe(10_000_000);
    expect(windowLimit(team, 'weekly')).toBe(40_000_000);
    expect(windowLimit({ ...team, seats: undefined }, '5h')).toBe(2_500_000);
  });

  it('applies only the windows with an allowance, and none to a feature the plan does not cover', () => {
    const weeklyOnly: PlanDefinition = { windows: { '5h': 0, weekly: 2 }, features: ['assistant', 'images'] };
    expect(applicableWindows(weeklyOnly, 'images')).toEqual(['weekly']);
    expect(applicableWindows(weeklyOnly, 'audio')).toEqual([]);
    expect(applicableWindows({ ...weeklyOnly, windows: { '5h': 1, weekly: 2 } }, 'assistant')).toEqual(['5h', 'weekly']);
  });

  it('knows the windows’ lengths', () => {
    expect(windowLengthMs('5h')).toBe(5 * HOUR);
    expect(windowLengthMs('weekly')).toBe(168 * HOUR);
  });
});

describe('decide', () => {
  it('admits on the plan while every window has at least one micro-credit left after the holds', () => {
    expect(decide([five(600), weekly(600)], 399, credits(0))).toEqual({ state: 'plan' });
    expect(decide([five(600), weekly(600)], 400, credits(0))).toEqual({ state: 'blocked', reason: 'allowance_exhausted', retryAt: T + 5 * HOUR });
  });

  it('goes to credits when a window is used up, only while balance less holds is above zero and auto-use is on', () => {
    expect(decide([five(1_000)], 0, credits(11, 10))).toEqual({ state: 'credits' });
    expect(decide([five(1_000)], 0, credits(10, 10))).toMatchObject({ state: 'blocked', reason: 'allowance_exhausted' });
    expect(decide([five(1_000)], 0, credits(11, 10, false))).toMatchObject({ state: 'blocked', reason: 'auto_use_off' });
  });

  it('sends a request no window covers to credits, and blocks it without a retry time when there are none', () => {
    expect(decide([], 0, credits(1))).toEqual({ state: 'credits' });
    expect(decide([], 0, credits(0))).toEqual({ state: 'blocked', reason: 'no_credits', retryAt: null });
    expect(decide([], 0, credits(5, 0, false))).toEqual({ state: 'blocked', reason: 'auto_use_off', retryAt: null });
  });

  it('blocks a team seat at its weekly cap with seat_cap while auto-use is on, and for the usual reason when it is off', () => {
    const capped = (autoUse: boolean) => ({ ...credits(0, 0, autoUse), capped: true });
    expect(decide([five(1_000)], 0, capped(true))).toEqual({ state: 'blocked', reason: 'seat_cap', retryAt: T + 5 * HOUR });
    expect(decide([], 0, capped(true))).toEqual({ state: 'blocked', reason: 'seat_cap', retryAt: null });
    // Auto-use off: the seat would not spend from the pool anyway, so the cap is not what blocks it.
    expect(decide([five(1_000)], 0, capped(false))).toMatchObject({ state: 'blocked', reason: 'allowance_exhausted' });
    expect(decide([], 0, capped(false))).toMatchObject({ state: 'blocked', reason: 'no_credits' });
    expect(decide([five(1_000)], 0, { ...credits(0), capped: false })).toMatchObject({ state: 'blocked', reason: 'allowance_exhausted' });
  });

  it('retries when the last used-up window resets, not the first', () => {
    const both = decide([five(1_000, T + HOUR), weekly(3_000, T + 100 * HOUR)], 0, credits(0));
    expect(both).toEqual({ state: 'blocked', reason: 'allowance_exhausted', retryAt: T + 100 * HOUR });
    // A window with room left does not delay the retry.
    expect(decide([five(1_000, T + HOUR), weekly(0, T + 100 * HOUR)], 0, credits(0))).toMatchObject({ retryAt: T + HOUR });
  });

  it('gives no retry time when holds alone use up a window that has no open period', () => {
    // The period ended under long requests: used is 0, the holds settle whenever they settle.
    expect(decide([five(0, null), weekly(0, null)], 1_000, credits(0))).toEqual({ state: 'blocked', reason: 'allowance_exhausted', retryAt: null });
    expect(decide([five(1_000, T + HOUR), weekly(2_000, null)], 1_000, credits(0))).toMatchObject({ retryAt: null });
    expect(decide([weekly(2_000, null), five(1_000, T + HOUR)], 1_000, credits(0))).toMatchObject({ retryAt: null });
  });
});

describe('splitPlanCharge', () => {
  it('charges the plan up to the smallest remainder and the excess to credits', () => {
    expect(splitPlanCharge(500, [five(700), weekly(2_800)], credits(1))).toEqual({ planCost: 200, creditCost: 300 });
    expect(splitPlanCharge(300, [five(700), weekly(0)], credits(1))).toEqual({ planCost: 300, creditCost: 0 });
  });

  it('counts an overrun window as nothing left, not as a negative remainder', () => {
    expect(splitPlanCharge(100, [five(1_200)], credits(50))).toEqual({ planCost: 0, creditCost: 100 });
  });

  it('records the whole cost on the plan when credits cannot take the excess', () => {
    expect(splitPlanCharge(500, [five(700)], credits(0))).toEqual({ planCost: 500, creditCost: 0 });
    expect(splitPlanCharge(500, [five(700)], credits(-5))).toEqual({ planCost: 500, creditCost: 0 });
    expect(splitPlanCharge(500, [five(700)], credits(1_000, 0, false))).toEqual({ planCost: 500, creditCost: 0 });
  });

  it('sends the whole cost to credits when no window applies any more', () => {
    expect(splitPlanCharge(500, [], credits(1))).toEqual({ planCost: 0, creditCost: 500 });
  });
});

describe('spendableFor', () => {
  it('on credits: the balance less the credit holds, never below zero', () => {
    expect(spendableFor('credits', [five(0)], 0, credits(1_000, 300))).toBe(700);
    expect(spendableFor('credits', [], 0, credits(100, 300))).toBe(0);
  });

  it('on the plan: the smallest remainder after the plan holds, plus usable credits when auto-use would pay', () => {
    expect(spendableFor('plan', [five(600), weekly(2_500)], 100, credits(0))).toBe(300);
    expect(spendableFor('plan', [five(0), weekly(2_500)], 100, credits(0))).toBe(400);
    expect(spendableFor('plan', [five(600)], 100, credits(1_000, 250))).toBe(1_050);
    expect(spendableFor('plan', [five(600)], 100, credits(1_000, 250, false))).toBe(300);
    expect(spendableFor('plan', [five(600)], 100, credits(100, 250))).toBe(300);
    expect(spendableFor('plan', [five(600)], 500, credits(-10))).toBe(0);
  });
});
