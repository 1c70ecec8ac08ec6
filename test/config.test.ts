import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUILT_IN_PLANS } from '../shared/plans';
import { ConfigError, loadConfig, resolveConfigFile, resolveDataDir } from '../proxy/config';
import { defaultRateCard } from '../proxy/pricing/defaultRateCard';

const FIXTURES = path.join(__dirname, 'fixtures', 'config');
const fixture = (name: string): string => path.join(FIXTURES, name);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'creditgate-config-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function writeConfig(name: string, json: unknown): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, typeof json === 'string' ? json : JSON.stringify(json));
  return file;
}

/** The ConfigError a load throws (fails the test if it does not throw one). */
function configError(load: () => unknown): ConfigError {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig defaults', () => {
  it('runs on defaults without a config file', () => {
    const config = loadConfig({ env: {} });
    expect(config).toEqual({
      database: null,
      plan: 'plus',
      plans: BUILT_IN_PLANS,
      rateCard: defaultRateCard(),
      autoUseCredits: true,
      upstreams: { openai: { baseUrl: 'https://api.openai.com/v1' }, anthropic: { baseUrl: 'https://api.anthropic.com' } },
      port: 8788,
      host: '127.0.0.1',
      allowedHosts: [],
      tls: null,
      maxBodyBytes: 32 * 1024 * 1024,
      overspendMargin: 500_000,
      upstreamTimeoutMs: 600_000,
      upstreamFirstByteTimeoutMs: 120_000,
      upstreamInterByteTimeoutMs: 300_000,
      requestHeadersTimeoutMs: 10_000,
      requestBodyTimeoutMs: 60_000,
      keepAliveTimeoutMs: 5_000,
      maxConnections: 256,
      shutdownGraceMs: 10_000,
      ledgerBusyTimeoutMs: 5_000,
      autoReload: null,
      configFile: null,
    });
  });
});

describe('loadConfig from a file', () => {
  it('reads every key, overrides built-in plans by name and adds new ones', () => {
    const config = loadConfig({ configFile: fixture('team.json'), env: {} });
    expect(config.plan).toBe('team');
    expect(config.plans.plus).toEqual({ windows: { '5h': 80, weekly: 400 }, features: ['assistant', 'images'] });
    expect(config.plans.team).toEqual({ windows: { '5h': 120.5, weekly: 600 }, features: ['assistant'], seats: 3 });
    expect(config.plans.pro).toEqual(BUILT_IN_PLANS.pro);
    expect(config.autoUseCredits).toBe(false);
    expect(config.upstreams.openai.baseUrl).toBe('http://127.0.0.1:9000/v1'); // trailing slash removed
    expect(config.upstreams.anthropic.baseUrl).toBe('http://127.0.0.1:9001');
    expect(config).toMatchObject({ port: 9999, maxBodyBytes: 1_048_576, upstreamTimeoutMs: 120_000 });
    expect(config).toMatchObject({
      upstreamFirstByteTimeoutMs: 90_000,
      upstreamInterByteTimeoutMs: 45_000,
      requestHeadersTimeoutMs: 2_000,
      requestBodyTimeoutMs: 20_000,
      keepAliveTimeoutMs: 4_000,
      maxConnections: 32,
      shutdownGraceMs: 0,
    });
    expect(config.autoReload).toEqual({ threshold: 10_000_000, target: 100_500_000, maxPerMonth: 3 });
    expect(config.configFile).toBe(fixture('team.json'));
  });

  it('defaults a plan without features to the assistant', () => {
    const file = writeConfig('features.json', { plan: 'mini', plans: { mini: { windows: { '5h': 1, weekly: 2 } } } });
    expect(loadConfig({ configFile: file, env: {} }).plans.mini?.features).toEqual(['assistant']);
  });

  it('treats a disabled auto-reload as none', () => {
    const file = writeConfig('reload-off.json', { autoReload: { enabled: false, threshold: 1, target: 2, maxPerMonth: 1 } });
    expect(loadConfig({ configFile: file, env: {} }).autoReload).toBeNull();
  });

  it('names every bad key, each on its own line with the file', () => {
    const error = configError(() => loadConfig({ configFile: fixture('bad-keys.json'), env: {} }));
    const file = fixture('bad-keys.json');
    expect(error.issues).toEqual(
      expect.arrayContaining([
        `${file}: plans.team.windows.5h: expected a number, got the string "lots"`,
        `${file}: autoUseCredit: unknown key`,
        expect.stringMatching(/^.*bad-keys\.json: upstreams\.openai\.apiKey: unknown key \(API keys are never read/),
        expect.stringMatching(/bad-keys\.json: port: .*65535/),
      ]),
    );
    expect(error.issues).toHaveLength(4);
    for (const issue of error.issues) expect(error.message).toContain(issue);
  });

  it('refuses an unknown plan, a missing key and a typo in a feature', () => {
    const unknownPlan = configError(() => loadConfig({ configFile: writeConfig('plan.json', { plan: 'gold' }), env: {} }));
    expect(unknownPlan.message).toMatch(/plan\.json: plan: unknown plan "gold" \(known: business, enterprise, free, plus, pro\)/);
    const missing = configError(() => loadConfig({ configFile: writeConfig('missing.json', { plans: { x: { windows: { '5h': 1 } } } }), env: {} }));
    expect(missing.message).toContain('plans.x.windows.weekly: missing (expected a number)');
    const typo = configError(() =>
      loadConfig({ configFile: writeConfig('typo.json', { plans: { x: { windows: { '5h': 1, weekly: 1 }, features: ['asistant'] } } }), env: {} }),
    );
    expect(typo.message).toContain('plans.x.features[0]: unknown feature "asistant"');
  });

  it('refuses amounts finer than a micro-credit, bad URLs and timer-overflowing timeouts', () => {
    const error = configError(() =>
      loadConfig({
        configFile: writeConfig('values.json', {
          plans: { x: { windows: { '5h': 0.0000001, weekly: 1 } } },
          upstreams: { anthropic: { baseUrl: 'ftp://example.com' } },
          upstreamTimeoutMs: 2 ** 31,
          autoReload: { enabled: true, threshold: 50, target: 50, maxPerMonth: 1 },
        }),
        env: {},
      }),
    );
    expect(error.issues.map((line) => line.split(': ')[1])).toEqual(
      expect.arrayContaining(['plans.x.windows.5h', 'upstreams.anthropic.baseUrl', 'upstreamTimeoutMs', 'autoReload.target']),
    );
  });

  it('refuses connection limits that cannot work: no connections, a negative grace, headers given longer than the whole request', () => {
    const error = configError(() =>
      loadConfig({
        configFile: writeConfig('limits.json', { maxConnections: 0, shutdownGraceMs: -1, upstreamInterByteTimeoutMs: 0 }),
        env: {},
      }),
    );
    expect(error.issues.map((line) => line.split(': ')[1])).toEqual(
      expect.arrayContaining(['maxConnections', 'shutdownGraceMs', 'upstreamInterByteTimeoutMs']),
    );
    const order = configError(() => loadConfig({ configFile: writeConfig('order.json', { requestHeadersTimeoutMs: 30_000, requestBodyTimeoutMs: 20_000 }), env: {} }));
    expect(order.message).toContain('requestHeadersTimeoutMs: must not exceed requestBodyTimeoutMs (20000)');
  });

  it('reports invalid JSON and a missing file with the path', () => {
    const broken = writeConfig('broken.json', '{ "plan": ');
    expect(configError(() => loadConfig({ configFile: broken, env: {} })).message).toContain(`${broken}: invalid JSON`);
    const absent = path.join(tmp, 'absent.json');
    expect(configError(() => loadConfig({ configFile: absent, env: {} })).message).toBe(`${absent}: file not found`);
  });
});

describe('rate cards in the config', () => {
  it('resolves rateCardFile relative to the config file, not the working directory', () => {
    const cwd = process.cwd();
    try {
      process.chdir(tmp);
      const config = loadConfig({ configFile: fixture('nested/config.json'), env: {} });
      expect(config.rateCard.version).toBe('test-1');
      expect(config.rateCard.default).toMatchObject({ input: 100 });
      expect(config.plan).toBe('pro');
    } finally {
      process.chdir(cwd);
    }
  });

  it('takes CREDITGATE_RATE_CARD_FILE over the config card (the editor setting), naming it when missing', () => {
    const config = loadConfig({ configFile: writeConfig('env-card.json', { plan: 'plus' }), env: { CREDITGATE_RATE_CARD_FILE: fixture('nested/cards/card.json') } });
    expect(config.rateCard.version).toBe('test-1');
    const missing = configError(() => loadConfig({ env: { CREDITGATE_RATE_CARD_FILE: path.join(tmp, 'nope.json') } }));
    expect(missing.message).toBe(`CREDITGATE_RATE_CARD_FILE: ${path.join(tmp, 'nope.json')}: file not found`);
  });

  it('names the card file and the bad key', () => {
    const error = configError(() => loadConfig({ configFile: fixture('bad-card-ref.json'), env: {} }));
    const card = fixture('cards/bad-card.json');
    expect(error.issues).toEqual([
      `${card}: models.gpt-5.input: expected a number, got the string "cheap"`,
      `${card}: models.gpt-5.outptu: unknown key`,
    ]);
  });

  it('names a missing card file', () => {
    const error = configError(() => loadConfig({ configFile: fixture('missing-card-ref.json'), env: {} }));
    expect(error.message).toBe(`${fixture('missing-card-ref.json')}: rateCardFile: ${fixture('cards/does-not-exist.json')}: file not found`);
  });

  it('accepts an inline card, validated under rateCard.*, but not together with a file', () => {
    const inline = { version: 'inline', creditUsd: 0.04, models: { m: { input: 1 } } };
    expect(loadConfig({ configFile: writeConfig('inline.json', { rateCard: inline }), env: {} }).rateCard.version).toBe('inline');
    const bad = configError(() => loadConfig({ configFile: writeConfig('inline-bad.json', { rateCard: { ...inline, creditUsd: 'x' } }), env: {} }));
    expect(bad.message).toContain('rateCard.creditUsd: expected a number');
    const both = configError(() => loadConfig({ configFile: writeConfig('both.json', { rateCard: inline, rateCardFile: 'x.json' }), env: {} }));
    expect(both.message).toContain('not both');
  });
});

describe('environment overrides', () => {
  it('override the file', () => {
    const config = loadConfig({
      configFile: fixture('team.json'),
      env: {
        CREDITGATE_OPENAI_BASE_URL: 'http://localhost:1234/v1//',
        CREDITGATE_ANTHROPIC_BASE_URL: 'https://proxy.example.com/anthropic/',
        CREDITGATE_PORT: '0',
      },
    });
    expect(config.upstreams).toEqual({
      openai: { baseUrl: 'http://localhost:1234/v1' },
      anthropic: { baseUrl: 'https://proxy.example.com/anthropic' },
    });
    expect(config.port).toBe(0);
  });

  it('treat empty values as unset', () => {
    expect(loadConfig({ env: { CREDITGATE_PORT: '', CREDITGATE_OPENAI_BASE_URL: '' } }).port).toBe(8788);
  });

  it.each(['abc', '70000', '-1', '80.5', '1e3'])('refuse CREDITGATE_PORT=%s, naming the variable', (value) => {
    const error = configError(() => loadConfig({ env: { CREDITGATE_PORT: value } }));
    expect(error.message).toBe(`CREDITGATE_PORT: expected a port number from 0 to 65535, got ${JSON.stringify(value)}`);
  });

  it('refuse base URLs that are not http(s) or carry credentials', () => {
    expect(configError(() => loadConfig({ env: { CREDITGATE_OPENAI_BASE_URL: 'api.openai.com' } })).message).toMatch(
      /^CREDITGATE_OPENAI_BASE_URL: expected an http\(s\) URL/,
    );
    expect(configError(() => loadConfig({ env: { CREDITGATE_ANTHROPIC_BASE_URL: 'https://user:sk-x@example.com' } })).message).toMatch(
      /^CREDITGATE_ANTHROPIC_BASE_URL: .*credentials/,
    );
  });
});

describe('paths', () => {
  const home = path.join(tmp, 'home');

  it('resolves the data directory: flag > CREDITGATE_DATA_DIR > ~/.creditgate', () => {
    expect(resolveDataDir({ dataDir: '/a', env: { CREDITGATE_DATA_DIR: '/b' }, homeDir: home })).toBe(path.resolve('/a'));
    expect(resolveDataDir({ env: { CREDITGATE_DATA_DIR: '/b' }, homeDir: home })).toBe(path.resolve('/b'));
    expect(resolveDataDir({ env: {}, homeDir: home })).toBe(path.join(home, '.creditgate'));
    expect(resolveDataDir({ env: { CREDITGATE_DATA_DIR: '~/cg' }, homeDir: home })).toBe(path.join(home, 'cg'));
    expect(resolveDataDir({ dataDir: 'rel', env: {}, homeDir: home })).toBe(path.resolve('rel'));
  });

  it('resolves the config file: flag > CREDITGATE_CONFIG > none', () => {
    expect(resolveConfigFile('/x.json', { CREDITGATE_CONFIG: '/y.json' })).toBe(path.resolve('/x.json'));
    expect(resolveConfigFile(undefined, { CREDITGATE_CONFIG: '/y.json' })).toBe(path.resolve('/y.json'));
    expect(resolveConfigFile(undefined, {})).toBeNull();
    expect(resolveConfigFile('', { CREDITGATE_CONFIG: '' })).toBeNull();
  });
});
