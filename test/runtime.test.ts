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

  it('fails on a port already in use without leaving anything that reads the closed ledger', async () => {
    const http = await import('node:http');
    const other = http.createServer((_req, res) => res.end('not creditgate'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'creditgate-runtime-'));
    try {
      await expect(serveGateway({ dataDir, port: (other.address() as { port: number }).port }, {}, quiet)).rejects.toThrow(/EADDRINUSE/);
      // The failed gateway's status feed polled every 100 ms, and its first poll of the closed ledger
      // threw from a timer: an uncaught exception that killed the editor's gateway process.
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      other.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
