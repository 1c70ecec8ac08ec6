import { describe, expect, it } from 'vitest';
import { actionsFor, AlertPlanner, alertMessage, normalizeThresholds } from '../extension/presentation/alerts';
import { RestartPolicy } from '../extension/presentation/restartPolicy';
import { confirmationMessage, packChoices, parseCreditAmount, validateCreditAmount } from '../extension/presentation/purchase';
import { clientSnippets, validateClientName } from '../extension/presentation/clientSnippets';
import { TOLD_MODELS_CAP, UnpricedModelNotices, unpricedModelMessage } from '../extension/presentation/unpricedModels';
import { NOW, status } from './extension-fixtures';

const NEXT_5H = '2026-11-03T19:30:00.000Z';

describe('threshold notifications', () => {
  it('fires each threshold once per window period', () => {
    const planner = new AlertPlanner();
    expect(planner.observe(status({}, { '5h': { used: 30 } }), NOW)).toEqual([]);
    expect(planner.observe(status({}, { '5h': { used: 38 } }), NOW)).toMatchObject([{ kind: 'threshold', window: '5h', threshold: 75 }]);
    // Same window, more use, still under 90 %: nothing new.
    expect(planner.observe(status({}, { '5h': { used: 40 } }), NOW + 1)).toEqual([]);
    expect(planner.observe(status({}, { '5h': { used: 45 } }), NOW + 2)).toMatchObject([{ kind: 'threshold', threshold: 90 }]);
    expect(planner.observe(status({}, { '5h': { used: 45.5 } }), NOW + 3)).toEqual([]);
  });

  it('fires only the highest threshold on a jump past several', () => {
    const planner = new AlertPlanner();
    expect(planner.observe(status({}, { '5h': { used: 48 } }), NOW)).toMatchObject([{ kind: 'threshold', threshold: 95, usedPercent: 96 }]);
    expect(planner.observe(status({}, { '5h': { used: 48 } }), NOW)).toEqual([]);
  });

  it('re-arms when a new window opens (new resetsAt)', () => {
    const planner = new AlertPlanner();
    planner.observe(status({}, { '5h': { used: 40 } }), NOW);
    const later = Date.parse('2026-11-03T15:00:00Z');
    expect(planner.observe(status({}, { '5h': { used: 40, resetsAt: NEXT_5H } }), later)).toMatchObject([{ kind: 'threshold', threshold: 75, resetsAt: NEXT_5H }]);
  });

  it('tracks the weekly window separately', () => {
    const planner = new AlertPlanner();
    expect(planner.observe(status({}, { '5h': { used: 40 }, weekly: { used: 190 } }), NOW).map((a) => a.kind === 'threshold' && a.window)).toEqual(['5h', 'weekly']);
  });

  it('uses the configured thresholds', () => {
    const planner = new AlertPlanner([50]);
    expect(planner.observe(status({}, { '5h': { used: 26 } }), NOW)).toMatchObject([{ threshold: 50 }]);
    planner.setThresholds([80]);
    expect(planner.observe(status({}, { '5h': { used: 38 } }), NOW)).toEqual([]);
    expect(planner.observe(status({}, { '5h': { used: 41 } }), NOW)).toMatchObject([{ threshold: 80 }]);
    expect(normalizeThresholds([95, 'x', 75, 0, 101, 75, Number.NaN])).toEqual([75, 95]);
  });

  it('survives a reload through the persisted keys, and forgets keys of past windows', () => {
    const first = new AlertPlanner();
    first.observe(status({}, { '5h': { used: 40 } }), NOW);
    const reloaded = new AlertPlanner(undefined, first.firedKeys());
    expect(reloaded.observe(status({}, { '5h': { used: 40 } }), NOW + 60_000)).toEqual([]);
    const afterReset = Date.parse('2026-11-03T14:31:00Z');
    reloaded.observe(status({}, { '5h': { used: 0, resetsAt: null } }), afterReset);
    expect(Object.keys(reloaded.firedKeys())).toEqual([]);
  });
});

describe('switch to credits and blocked', () => {
  it('announces the switch to credits once per window period, instead of the thresholds', () => {
    const planner = new AlertPlanner();
    const onCredits = status({ state: 'credits' }, { '5h': { used: 50 } });
    expect(planner.observe(onCredits, NOW)).toEqual([{ kind: 'onCredits', window: '5h', resetsAt: '2026-11-03T14:30:00.000Z', balance: 1240 }]);
    expect(planner.observe(onCredits, NOW + 1)).toEqual([]);
    expect(planner.observe(status({ state: 'credits' }, { '5h': { used: 50, resetsAt: NEXT_5H } }), Date.parse('2026-11-03T15:00:00Z'))).toMatchObject([
      { kind: 'onCredits', resetsAt: NEXT_5H },
    ]);
  });

  it('announces blocked once per trip, not per status', () => {
    const planner = new AlertPlanner();
    const blocked = status({ state: 'blocked', credits: { balance: 0, held: 0, available: 0 } }, { '5h': { used: 50 } });
    expect(planner.observe(blocked, NOW)).toEqual([{ kind: 'blocked', plan: 'plus', unblocksAt: '2026-11-03T14:30:00.000Z', creditsWaiting: false, team: false }]);
    expect(planner.observe(blocked, NOW + 1_000)).toEqual([]);
    expect(planner.observe({ ...blocked, state: 'credits', credits: { balance: 100, held: 0, available: 100 } }, NOW + 2_000)).toMatchObject([{ kind: 'onCredits' }]);
    expect(planner.observe(blocked, NOW + 3_000)).toMatchObject([{ kind: 'blocked' }]);
  });

  it('waits for the later reset when both windows are exhausted, and knows when credits wait on auto-use', () => {
    const planner = new AlertPlanner();
    const blocked = status({ state: 'blocked', autoUseCredits: false }, { '5h': { used: 50 }, weekly: { used: 250 } });
    expect(planner.observe(blocked, NOW)).toEqual([{ kind: 'blocked', plan: 'plus', unblocksAt: '2026-11-08T09:00:00.000Z', creditsWaiting: true, team: false }]);
  });

  it('words the alerts with buttons', () => {
    const blocked = alertMessage({ kind: 'blocked', plan: 'plus', unblocksAt: '2026-11-03T14:30:00.000Z', creditsWaiting: false, team: false }, NOW, { timeZone: 'UTC' });
    expect(blocked).toEqual({
      severity: 'error',
      text: 'Creditgate: requests are blocked — the plan allowance is used up and there are no credits left. The allowance comes back at 14:30 (in 2 h 30 min).',
      actions: ['Add credits', 'View usage'],
    });
    expect(alertMessage({ kind: 'blocked', plan: 'plus', unblocksAt: null, creditsWaiting: true, team: false }, NOW).actions).toEqual(['Turn on auto-use', 'Add credits', 'View usage']);
    // A team seat's block names the pool; a member gets Add credits only where members may buy.
    const teamBlocked = status({ state: 'blocked', seat: 'ana' }, { '5h': { used: 50 } });
    const [teamAlert] = new AlertPlanner().observe(teamBlocked, NOW);
    const teamMessage = alertMessage(teamAlert!, NOW, { timeZone: 'UTC' });
    expect(teamMessage.text).toContain("the seat's plan allowance is used up and the team's credit pool is empty");
    expect(actionsFor(teamMessage.actions, { role: 'member' })).toEqual(['View usage']);
    expect(actionsFor(teamMessage.actions, { role: 'member', mayBuyCredits: false })).toEqual(['View usage']);
    expect(actionsFor(teamMessage.actions, { role: 'member', mayBuyCredits: true })).toEqual(['Add credits', 'View usage']);
    expect(actionsFor(['Turn on auto-use', 'Add credits', 'View usage'], { role: 'admin' })).toEqual(['Turn on auto-use', 'Add credits', 'View usage']);
    expect(actionsFor(['Turn on auto-use', 'Add credits', 'View usage'], {})).toEqual(['Turn on auto-use', 'Add credits', 'View usage']);
    const threshold = alertMessage({ kind: 'threshold', window: 'weekly', threshold: 90, usedPercent: 91.2, resetsAt: '2026-11-08T09:00:00.000Z' }, NOW, { timeZone: 'UTC' });
    expect(threshold.text).toBe('Creditgate: 91% of the weekly allowance is used. It resets at Sun 09:00 (in 4 d 21 h).');
  });
});

describe('restart policy', () => {
  it('restarts five times within three minutes, then gives up until reset', () => {
    const policy = new RestartPolicy();
    for (let i = 0; i < 5; i++) expect(policy.shouldRestart(NOW + i * 1_000)).toBe(true);
    expect(policy.shouldRestart(NOW + 6_000)).toBe(false);
    // Crashes older than the window no longer count.
    expect(policy.shouldRestart(NOW + 4 * 60_000)).toBe(true);
    policy.reset();
    expect(policy.shouldRestart(NOW + 4 * 60_000 + 1)).toBe(true);
  });
});

describe('add credits', () => {
  it('validates a custom amount: positive, at most 6 decimals', () => {
    expect(validateCreditAmount('250')).toBeNull();
    expect(validateCreditAmount('1,000.5')).toBeNull();
    expect(validateCreditAmount('0.000001')).toBeNull();
    expect(validateCreditAmount('0.0000001')).toBe('Use at most 6 decimals.');
    expect(validateCreditAmount('0')).toBe('The amount must be more than 0.');
    expect(validateCreditAmount('-5')).toBe('The amount must be more than 0.');
    expect(validateCreditAmount('abc')).toBe('Enter a number such as 250 or 12.5.');
    expect(validateCreditAmount('')).toBe('Enter a number of credits, for example 250.');
    expect(validateCreditAmount('2000000000')).toBe('At most 1,000,000,000 credits at once.');
    expect(parseCreditAmount(' 1,000.25 ')).toBe(1000.25);
  });

  it('labels the packs with their prices', () => {
    expect(packChoices([{ credits: 500, usd: 19 }], 0.04)).toEqual([
      { label: '500 credits', description: '$19.00 · $0.04/credit (list $20.00)', credits: 500, usd: 19 },
    ]);
    expect(confirmationMessage(500, 19)).toBe('Add 500 credits for $19.00 to the Creditgate account?');
  });
});

describe('connect a client', () => {
  it('gives Codex, OpenAI and Anthropic snippets with the token', () => {
    const doc = clientSnippets({ url: 'http://127.0.0.1:8788', clientName: 'codex', token: 'cg_abc' });
    expect(doc).toContain('base_url = "http://127.0.0.1:8788/v1"');
    expect(doc).toContain('wire_api = "responses"');
    expect(doc).toContain('export CREDITGATE_TOKEN=cg_abc');
    expect(doc).toContain('export OPENAI_BASE_URL=http://127.0.0.1:8788/v1');
    expect(doc).toContain('export ANTHROPIC_BASE_URL=http://127.0.0.1:8788\n');
    expect(doc).toContain('export ANTHROPIC_API_KEY=cg_abc');
    expect(validateClientName('claude-code')).toBeNull();
    expect(validateClientName('a b')).not.toBeNull();
  });
});

describe('the notice for a model the rate card does not list', () => {
  it('tells about each unpriced model once, across status pushes and reloads', () => {
    const notices = new UnpricedModelNotices();
    expect(notices.observe(status())).toEqual([]);
    expect(notices.observe(status({ unpricedModels: ['gpt-7-nova'] }))).toEqual(['gpt-7-nova']);
    expect(notices.observe(status({ unpricedModels: ['gpt-7-nova'] }))).toEqual([]);
    expect(notices.observe(status({ unpricedModels: ['gpt-7-nova', 'claude-epic-9'] }))).toEqual(['claude-epic-9']);
    // A reloaded window starts from what was persisted.
    const reloaded = new UnpricedModelNotices([...notices.told(), 42]);
    expect(reloaded.observe(status({ unpricedModels: ['gpt-7-nova', 'claude-epic-9'] }))).toEqual([]);
  });

  it('forgets the oldest told models past its cap', () => {
    const notices = new UnpricedModelNotices(Array.from({ length: TOLD_MODELS_CAP }, (_, i) => `m${i}`));
    notices.observe(status({ unpricedModels: ['newest'] }));
    expect(notices.told()).toHaveLength(TOLD_MODELS_CAP);
    expect(notices.told()).not.toContain('m0');
    expect(notices.told()).toContain('newest');
  });

  it('names the model and how to give it a price', () => {
    const message = unpricedModelMessage('gpt-7-nova');
    expect(message.text).toContain('"gpt-7-nova" is not on the rate card');
    expect(message.text).toContain('"models"');
    expect(message.text).toContain('creditgate.rateCardFile');
    expect(message.actions).toEqual(['Set Rate Card File']);
  });
});
