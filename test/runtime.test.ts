import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serveGateway } from '../proxy/runtime';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe('serveGateway', () => {
  it("applies the config's auto-reload once, and a user's 'off' survives restarts", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'creditgate-runtime-'));
    const configFile = path.join(dataDir, 'config.json');
    fs.writeFileSync(configFile, JSON.stringify({ autoReload: { enabled: true, threshold: 10, target: 100, maxPerMonth: 2 } }));
    const location = { dataDir, configFile, port: 0 };

    const first = await serveGateway(location, {}, quiet);
    expect(first.account.ledger.getAutoReload()).toEqual({ threshold: 10_000_000, target: 100_000_000, maxPerMonth: 2 });
    first.account.ledger.setAutoReload(null);
    await first.stop();

    const second = await serveGateway(location, {}, quiet);
    expect(second.account.ledger.getAutoReload()).toBeNull();
    await second.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
});
