/**
 * The benchmark's own server processes (`dist/bench.js --role …`), each printing
 * `listening on http://127.0.0.1:PORT` once it accepts connections:
 *
 *   --role upstream            the fake upstream (test/fake-upstream), the `direct` target
 *   --role raw --target URL    the baseline: a bare http-proxy forwarder with a keep-alive agent and
 *                              nothing else, the `raw` target
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createProxyServer } from 'http-proxy';
import { startFakeUpstream } from '../fake-upstream';
import { startWatchdog } from './processes';

export async function runUpstreamRole(): Promise<void> {
  startWatchdog();
  const upstream = await startFakeUpstream();
  // The fake upstream records every request for tests; a benchmark only needs them gone.
  setInterval(() => (upstream.requests.length = 0), 250).unref();
  stopOnSignals(() => upstream.close());
  console.log(`listening on ${upstream.url}`);
}

export async function runRawRole(target: string): Promise<void> {
  startWatchdog();
  // The same upstream agent settings as the gateway's, so the comparison is about what it adds.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const proxy = createProxyServer({ target, agent });
  proxy.on('error', (error, _req, res) => {
    if (res instanceof http.ServerResponse) {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`raw proxy: ${error.message}`);
    } else res.destroy();
  });
  const server = http.createServer((req, res) => proxy.web(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  stopOnSignals(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    agent.destroy();
  });
  console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

function stopOnSignals(close: () => Promise<void>): void {
  const stop = (): void => {
    void close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2_000).unref();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
