import { describe, expect, it } from 'vitest';
import { formatGrants, formatStatus, formatUsage } from '../proxy/cliFormat';
import { printable, printableLines, printableRows } from '../proxy/terminalText';
import type { Status, UsageRow } from '../shared/protocol';

describe('printable', () => {
  it('escapes C0, DEL and C1 controls (7- and 8-bit CSI), bidi overrides and line separators', () => {
    expect(printable('gpt-5\u001b[31m')).toBe('gpt-5\\u001b[31m');
    expect(printable('a\u009b2Jb\u007f')).toBe('a\\u009b2Jb\\u007f');
    expect(printable('admin\u202e\u2066txt.exe')).toBe('admin\\u202e\\u2066txt.exe');
    expect(printable('one\ntwo\r\u2028three\t')).toBe('one\\u000atwo\\u000d\\u2028three\\u0009');
  });

  it('leaves ordinary names alone, non-ASCII included', () => {
    for (const name of ['gpt-5-codex', 'claude-sonnet-4-5@20250929', 'Zoë’s Mac', '模型', 'agent 🚀']) expect(printable(name)).toBe(name);
  });

  it('keeps the line breaks of a message that spans lines', () => {
    expect(printableLines('config.json:\n  plan: unknown plan "x\u001b[8m"')).toBe('config.json:\n  plan: unknown plan "x\\u001b[8m"');
  });

  it('escapes the string fields of rows and leaves the others as they are', () => {
    expect(printableRows([{ key: 'm\u001b[0m', requests: 2, estimated: false, reason: null }])).toEqual([{ key: 'm\\u001b[0m', requests: 2, estimated: false, reason: null }]);
  });
});

describe('the CLI formats', () => {
  const row: UsageRow = {
    id: 1, ts: '2026-11-03T09:00:00.000Z', client: 'agent\u001b[2J', feature: 'assistant', model: 'gpt-5\u001b]0;x\u0007', route: '/v1/responses',
    status: 200, inputTokens: 1, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 1, reasoningTokens: 0, cost: 1, planCost: 1, creditCost: 0,
    estimated: false, reason: null, unpriced: false,
  };

  it('print no control character from a usage row, a group key, a grant key or a plan', () => {
    const status = {
      plan: 'team\u001b[8m', state: 'plan', autoUseCredits: true, windows: [], credits: { balance: 0, held: 0, available: 0 },
      lastCharge: null, burnRatePerHour: 0, planWarning: 'plan "team\u001b[8m" is not defined', unpricedModels: ['gpt-7\u001b[2J'],
    } as unknown as Status;
    const outputs = [
      formatUsage([row], undefined),
      formatUsage([{ key: 'gpt-5\u001b[31m', requests: 1, cost: 1, inputTokens: 1, outputTokens: 1 }], 'model'),
      formatGrants([{ id: 1, ts: row.ts, source: 'purchase', amount: 1, remaining: 1, expiresAt: null, idempotencyKey: 'k\u001b[1A' }]),
      formatStatus(status, Date.parse(row.ts)),
    ];
    for (const output of outputs) {
      // eslint-disable-next-line no-control-regex -- looking for control characters is the test
      expect(output).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
      expect(output).toContain('\\u001b');
    }
    expect(formatStatus(status, Date.parse(row.ts))).toContain('not on the rate card, billed at its default price: gpt-7\\u001b[2J');
  });
});
