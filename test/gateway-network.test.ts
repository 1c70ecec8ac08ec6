/**
 * `creditgate serve` beyond loopback (docs/product.md §8): real processes on real sockets. HTTPS with
 * a certificate made here by the openssl CLI carries a metered request to the fake upstream and back;
 * the Host check answers the allowed names and still refuses every other (DNS rebinding); `--host`
 * binds the address given; bad flags and bad TLS files stop the start with one clear line.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../proxy/config';
import { startFakeUpstream, type FakeUpstream } from './fake-upstream';
import { cli, serve, type ServeProcess, killServeProcesses } from './helpers/cliProcess';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

let upstream: FakeUpstream;
let dir: string;
let env: NodeJS.ProcessEnv;
let token: string;
const running: ServeProcess[] = [];

beforeAll(async () => {
  upstream = await startFakeUpstream();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'creditgate-network-'));
  env = {
    CREDITGATE_DATA_DIR: path.join(dir, 'data'),
    CREDITGATE_CONFIG: '',
    CREDITGATE_OPENAI_BASE_URL: `${upstream.url}/v1`,
    CREDITGATE_ANTHROPIC_BASE_URL: upstream.url,
  };
  token = cli(['token', '--name', 'teammate'], env).stdout.trim().split('\n').at(-1)!;
  if (hasOpenssl) {
    makeCertificate('cert.pem', 'key.pem');
    makeCertificate('other-cert.pem', 'other-key.pem');
  }
});
afterAll(async () => {
  await upstream.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await killServeProcesses(running);
});

/** A self-signed certificate for localhost and 127.0.0.1, and its key, in the test's folder. */
function makeCertificate(certName: string, keyName: string): void {
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', path.join(dir, keyName), '-out', path.join(dir, certName)],
    { stdio: 'ignore' },
  );
}

async function start(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<ServeProcess> {
  const server = await serve(args, { ...env, ...extraEnv });
  running.push(server);
  return server;
}

interface Answer {
  status: number;
  body: string;
}

/** One request, over HTTP or HTTPS (trusting `ca`), to `address` with the Host header given. */
function request(url: string, options: { method?: string; host?: string; body?: string; ca?: Buffer; address?: string } = {}): Promise<Answer> {
  const target = new URL(url);
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  if (options.host) headers.host = options.host;
  const send = target.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = send(
      { host: options.address ?? target.hostname, port: target.port, path: target.pathname, method: options.method ?? 'GET', headers, ca: options.ca, servername: 'localhost', agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const chat = JSON.stringify({ model: 'gpt-5', messages: [{ role: 'user', content: 'hello over TLS' }] });

describe.skipIf(!hasOpenssl)('serve over HTTPS (--tls-cert, --tls-key)', () => {
  it('meters a request end to end over TLS and tells the https URL', async () => {
    const server = await start(['--tls-cert', path.join(dir, 'cert.pem'), '--tls-key', path.join(dir, 'key.pem')]);
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = fs.readFileSync(path.join(dir, 'cert.pem'));

    const answer = await request(`${server.url}/v1/chat/completions`, { method: 'POST', body: chat, ca });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).usage.prompt_tokens).toBeGreaterThan(0);
    const status = JSON.parse((await request(`${server.url}/creditgate/v1/status`, { ca })).body);
    expect(status.windows[0].used).toBeGreaterThan(0);
    const rows = cli(['usage', '--json'], env).stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(rows.at(-1)).toMatchObject({ client: 'teammate', model: 'gpt-5', route: '/v1/chat/completions' });

    // Plain HTTP on the TLS port gets no answer: the handshake fails and the connection closes.
    await expect(request(server.url.replace('https:', 'http:') + '/healthz')).rejects.toThrow();
  });

  it('takes the address, the allowed names and the TLS files from the config file, paths relative to it', async () => {
    const configFile = path.join(dir, 'team.json');
    fs.writeFileSync(configFile, JSON.stringify({ host: '127.0.0.2', allowedHosts: ['Team.Example.Test'], tls: { cert: 'cert.pem', key: 'key.pem' } }));
    const server = await start([], { CREDITGATE_CONFIG: configFile });
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.2:\d+$/);
    const port = new URL(server.url).port;
    const ca = fs.readFileSync(path.join(dir, 'cert.pem'));
    const allowed = await request(`${server.url}/creditgate/v1/status`, { ca, host: `team.example.test:${port}` });
    expect(allowed.status).toBe(200);
  });

  it('refuses a certificate and key that do not belong together, or files that are not PEM, in one line', () => {
    const mismatched = cli(['serve', '--port', '0', '--tls-cert', path.join(dir, 'cert.pem'), '--tls-key', path.join(dir, 'other-key.pem')], env);
    expect(mismatched.status).toBe(2);
    expect(mismatched.stderr.trim()).toMatch(/^creditgate: --tls-cert .*cert\.pem, --tls-key .*other-key\.pem: not a usable certificate and private key \(.*\)$/);

    const notPem = cli(['serve', '--port', '0', '--tls-cert', path.join(dir, 'key.pem'), '--tls-key', path.join(dir, 'key.pem')], env);
    expect(notPem.status).toBe(2);
    expect(notPem.stderr.trim().split('\n')).toHaveLength(1);
    expect(notPem.stderr).toContain('not a usable certificate and private key');
  });

  it('prints no plain-HTTP warning on a wildcard address with TLS', async () => {
    const server = await start(['--host', '0.0.0.0', '--tls-cert', path.join(dir, 'cert.pem'), '--tls-key', path.join(dir, 'key.pem')]);
    expect(server.url).toMatch(/^https:\/\/0\.0\.0\.0:\d+$/);
    expect(server.stderr()).not.toContain('without TLS');
  });
});

describe('serve beyond loopback (--host, --allowed-host)', () => {
  it('answers the allowed names and the loopback names, and refuses any other Host (DNS rebinding)', async () => {
    const server = await start(['--allowed-host', 'creditgate.team.test', '--allowed-host', '10.1.2.3']);
    const port = new URL(server.url).port;
    for (const host of [`creditgate.team.test:${port}`, 'CREDITGATE.team.test', `10.1.2.3:${port}`, `localhost:${port}`, `127.0.0.1:${port}`]) {
      expect((await request(`${server.url}/creditgate/v1/status`, { host })).status, host).toBe(200);
    }
    for (const host of [`evil.example:${port}`, 'team.test', 'creditgate.team.test.evil.example', `10.1.2.4:${port}`]) {
      const refused = await request(`${server.url}/creditgate/v1/status`, { host });
      expect(refused.status, host).toBe(403);
      expect(JSON.parse(refused.body).error.message).toContain('creditgate.team.test');
    }
  });

  it('still requires a token on another address', async () => {
    const server = await start(['--host', '127.0.0.2']);
    const answer = await new Promise<number>((resolve, reject) => {
      http.get(`${server.url}/creditgate/v1/status`, { agent: false }, (res) => resolve(res.statusCode ?? 0)).on('error', reject);
    });
    expect(answer).toBe(401);
  });

  it('binds the address given, and only that one', async () => {
    const server = await start(['--host', '127.0.0.2']);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.2:\d+$/);
    const port = new URL(server.url).port;
    // The bound address is a name its clients may use: an IP literal cannot be rebound by DNS.
    expect((await request(`${server.url}/creditgate/v1/status`)).status).toBe(200);
    await expect(request(`http://127.0.0.1:${port}/creditgate/v1/status`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('warns in one line when it listens on every interface without TLS', async () => {
    const server = await start(['--host', '0.0.0.0']);
    const warnings = server.stderr().split('\n').filter((line) => line.includes('without TLS'));
    expect(warnings).toEqual([expect.stringMatching(/^\[creditgate\] warning: listening on every interface \(0\.0\.0\.0\) without TLS/)]);
  });

  it('refuses bad flags with a clear message', () => {
    const lone = cli(['serve', '--port', '0', '--tls-cert', path.join(dir, 'cert.pem')], env);
    expect(lone.status).toBe(2);
    expect(lone.stderr.trim()).toBe('creditgate: --tls-cert and --tls-key go together: give both (HTTPS) or neither (HTTP, or TLS at a reverse proxy)');

    const missing = cli(['serve', '--port', '0', '--tls-cert', path.join(dir, 'nope.pem'), '--tls-key', path.join(dir, 'key.pem')], env);
    expect(missing.status).toBe(2);
    expect(missing.stderr.trim()).toBe(`creditgate: --tls-cert ${path.join(dir, 'nope.pem')}: file not found`);

    const name = cli(['serve', '--port', '0', '--host', 'team.example.test'], env);
    expect(name.status).not.toBe(0);
    expect(name.stderr).toContain('expected an IP address to listen on');

    const withPort = cli(['serve', '--port', '0', '--allowed-host', 'team.example.test:443'], env);
    expect(withPort.status).not.toBe(0);
    expect(withPort.stderr).toContain('expected a host name or IP address without a port');
  });

  it('checks the config file keys, naming the bad one', () => {
    const configFile = path.join(dir, 'bad.json');
    fs.writeFileSync(configFile, JSON.stringify({ host: 'everywhere', allowedHosts: ['ok.example', 'not ok'], tls: { cert: 'a.pem' } }));
    expect(() => loadConfig({ configFile, env: {} })).toThrow(/host: expected an IP address[\s\S]*allowedHosts\[1\]: expected a host name[\s\S]*tls\.key/);
  });
});
