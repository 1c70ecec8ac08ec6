/**
 * The users' real tools through the gateway (CLIENTS.md): the OpenAI SDK (Chat streaming and not,
 * Responses streaming), the Anthropic SDK (Messages streaming) and Codex CLI (`codex exec` with a
 * custom provider): answers arrive, usage is metered to the exact credits, Codex records our windows,
 * and a blocked account gives Codex its "hit your usage limit" message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { costOf } from '../proxy/pricing/cost';
import { defaultRateCard } from '../proxy/pricing/defaultRateCard';
import { priceModel } from '../shared/rateCard';
import { startTestGateway, type TestGateway } from './helpers/testGateway';

let gw: TestGateway;
beforeAll(async () => {
  // `plus` without allowance: a blocked account on a plan name Codex also knows as a ChatGPT plan.
  gw = await startTestGateway({ plan: 'pro', plans: { plus: { windows: { '5h': 0, weekly: 0 }, features: ['assistant'] } } });
});
/** Codex homes made by the tests, removed at the end (each holds a session rollout and logs). */
const codexHomes: string[] = [];
function newCodexHome(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-home-'));
  codexHomes.push(dir);
  return dir;
}

afterAll(async () => {
  await gw.close();
  for (const dir of codexHomes) fs.rmSync(dir, { recursive: true, force: true });
});

const lastRow = () => gw.ledger.usageRows({}).reduce((a, b) => (b.id > a.id ? b : a));
const usageHeader = (usage: Record<string, number>) => ({ 'x-fake-usage': JSON.stringify(usage) });

describe('OpenAI SDK', () => {
  it('Chat Completions, streaming and not', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token, maxRetries: 0 });
    const usage = usageHeader({ input_tokens: 2000, cached_tokens: 1000, output_tokens: 100, reasoning_tokens: 40 });
    const completion = await client.chat.completions.create({ model: 'gpt-5-mini', messages: [{ role: 'user', content: 'hi' }] }, { headers: usage });
    expect(completion.choices[0]!.message.content).toBeTruthy();
    // gpt-5-mini: 6.25 / 0.625 / 50 → 1000×6.25 + 1000×0.625 + 100×50 = 11,875 µcr.
    expect(lastRow()).toMatchObject({ model: 'gpt-5-mini', cost: 0.011875, reasoningTokens: 40 });

    const stream = await client.chat.completions.create({ model: 'gpt-5-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] }, { headers: usage });
    let text = '';
    let sawUsage = false;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) sawUsage = true;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(sawUsage).toBe(false);
    expect(lastRow()).toMatchObject({ cost: 0.011875, estimated: false });
  });

  it('Responses streaming', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token, maxRetries: 0 });
    const stream = await client.responses.create(
      { model: 'gpt-5', input: 'hi', stream: true },
      { headers: { ...usageHeader({ input_tokens: 400, output_tokens: 40 }), 'x-fake-text': 'Hello from upstream' } },
    );
    let completed: OpenAI.Responses.Response | null = null;
    let text = '';
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = event.response;
    }
    expect(text).toBe('Hello from upstream');
    expect(completed!.usage!.output_tokens).toBe(40);
    // 400×31.25 + 40×250 = 22,500 µcr.
    expect(lastRow()).toMatchObject({ route: '/v1/responses', cost: 0.0225 });
  });
});

describe('Anthropic SDK', () => {
  it('Messages streaming', async () => {
    const client = new Anthropic({ baseURL: gw.url, apiKey: gw.token, maxRetries: 0 });
    const stream = client.messages.stream(
      { model: 'claude-haiku-4-5', max_tokens: 64000, messages: [{ role: 'user', content: 'hi' }] },
      { headers: usageHeader({ input_tokens: 10, cache_read_input_tokens: 100, cache_creation_input_tokens: 20, output_tokens: 30 }) },
    );
    const message = await stream.finalMessage();
    expect(message.content[0]!.type).toBe('text');
    expect(message.usage.output_tokens).toBe(30);
    // claude-haiku-4: 25 / 2.5 read / 31.25 write / 125 → 250 + 250 + 625 + 3,750 = 4,875 µcr.
    expect(lastRow()).toMatchObject({ model: 'claude-haiku-4-5', cost: 0.004875 });
  });
});

describe('Codex CLI', () => {
  const codexBin = path.resolve(__dirname, '../node_modules/.bin/codex');

  /** `model` null: no model in the config, as in the README's snippet, so Codex sends its own default. */
  function runCodex(codexHome: string, prompt: string, model: string | null = 'gpt-5-codex') {
    fs.writeFileSync(
      path.join(codexHome, 'config.toml'),
      [
        ...(model === null ? [] : [`model = "${model}"`]),
        'model_provider = "creditgate"',
        '[model_providers.creditgate]',
        'name = "Creditgate"',
        `base_url = "${gw.url}/v1"`,
        'env_key = "CREDITGATE_TOKEN"',
        'wire_api = "responses"',
        'request_max_retries = 0',
        'stream_max_retries = 0',
      ].join('\n'),
    );
    // Asynchronously: the gateway runs in this process and must keep serving while Codex runs.
    return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(codexBin, ['exec', '--skip-git-repo-check', '--json', prompt], {
        env: { ...process.env, CODEX_HOME: codexHome, CREDITGATE_TOKEN: gw.token, OPENAI_API_KEY: '' },
        cwd: codexHome,
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 60_000,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
  }

  function rolloutRateLimits(codexHome: string): { primary?: { window_minutes: number }; secondary?: { window_minutes: number } }[] {
    const found: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (entry.name.startsWith('rollout-')) found.push(full);
      }
    };
    walk(path.join(codexHome, 'sessions'));
    return found
      .flatMap((file) => fs.readFileSync(file, 'utf8').split('\n'))
      .filter(Boolean)
      .map((line) => JSON.parse(line))
      .map((entry) => entry.payload?.rate_limits)
      .filter(Boolean);
  }

  it('gets its answer, is metered exactly, and records our windows in its rollout', async () => {
    const codexHome = newCodexHome();
    gw.upstream.setBehavior(null);
    const rowsBefore = gw.ledger.usageRows({}).length;
    const result = await runCodex(codexHome, 'say hi');
    expect(result.status, result.stderr).toBe(0);
    const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
    const answer = events.find((e) => e.type === 'item.completed' && e.item?.type === 'agent_message');
    expect(answer?.item.text).toBeTruthy();
    const turn = events.find((e) => e.type === 'turn.completed');
    expect(turn.usage.output_tokens).toBeGreaterThan(0);

    const codexRequest = gw.upstream.requests.at(-1)!;
    expect(codexRequest.headers.originator).toMatch(/codex/);
    const rows = gw.ledger.usageRows({}).slice(rowsBefore);
    expect(rows).toHaveLength(1);
    // Fake upstream default usage: input = ceil(body bytes / 4), output = 8 deltas; gpt-5-codex at 31.25 / 250.
    const expected = Math.round(Math.ceil(Buffer.byteLength(codexRequest.body) / 4) * 31.25 + 8 * 250) / 1e6;
    expect(rows[0]).toMatchObject({ model: 'gpt-5-codex', cost: expected, estimated: false, inputTokens: turn.usage.input_tokens });

    const limits = rolloutRateLimits(codexHome);
    expect(limits.length).toBeGreaterThan(0);
    expect(limits.at(-1)!.primary!.window_minutes).toBe(300);
    expect(limits.at(-1)!.secondary!.window_minutes).toBe(10080);
  });

  it("runs on its own default model with the README's config, priced by the shipped card's listed price", async () => {
    const codexHome = newCodexHome();
    gw.upstream.setBehavior(null);
    const rowsBefore = gw.ledger.usageRows({}).length;
    const result = await runCodex(codexHome, 'say hi', null);
    expect(result.status, result.stderr).toBe(0);
    const model = JSON.parse(gw.upstream.requests.at(-1)!.body).model as string;
    expect(model).toBe('gpt-6.1-sol'); // Codex 0.169's default
    const rows = gw.ledger.usageRows({}).slice(rowsBefore);
    expect(rows).toHaveLength(1);
    const rate = priceModel(defaultRateCard(), model, 'openai');
    expect(rate?.listed).toBe(true);
    const usage = { vendor: 'openai', inputTokens: rows[0]!.inputTokens, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: rows[0]!.outputTokens, reasoningTokens: 0 } as const;
    expect(rows[0]).toMatchObject({ model, unpriced: false, estimated: false, cost: costOf(rate!.rate, usage) / 1e6 });
  });

  it.each(['free', 'plus'])('prints "hit your usage limit", and no ChatGPT upsell, on a blocked %s account', async (plan) => {
    gw.ledger.setPlan(plan);
    try {
      const codexHome = newCodexHome();
      const result = await runCodex(codexHome, 'say hi');
      expect(result.status).not.toBe(0);
      const output = result.stdout + result.stderr;
      expect(output).toMatch(/hit your usage limit/i);
      expect(output).not.toMatch(/upgrade|chatgpt\.com/i);
    } finally {
      gw.ledger.setPlan('pro');
    }
  });
});
