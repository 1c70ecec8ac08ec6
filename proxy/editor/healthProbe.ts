/**
 * Asks a port who is listening on it: a Creditgate gateway answers GET /healthz with its app name,
 * pid and data directory (proxy/gateway/server.ts). Anything else, or nothing, is "not ours".
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

export interface GatewayHealth {
  app: 'creditgate';
  pid: number;
  dataDir: string;
}

export function probeHealth(port: number, timeoutMs = 1_000): Promise<GatewayHealth | null> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', timeout: timeoutMs, headers: { host: `127.0.0.1:${port}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', () => resolve(null));
      res.on('end', () => resolve(res.statusCode === 200 ? parseHealth(Buffer.concat(chunks).toString('utf8')) : null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

function parseHealth(body: string): GatewayHealth | null {
  try {
    const json = JSON.parse(body) as Partial<GatewayHealth> | null;
    if (json?.app !== 'creditgate' || typeof json.dataDir !== 'string' || typeof json.pid !== 'number') return null;
    return { app: 'creditgate', pid: json.pid, dataDir: json.dataDir };
  } catch {
    return null;
  }
}

/** Whether two data directory paths name the same folder (symlinks and relative paths resolved). */
export function sameDirectory(a: string, b: string): boolean {
  const canonical = (dir: string): string => {
    try {
      return fs.realpathSync.native(dir);
    } catch {
      return path.resolve(dir);
    }
  };
  return canonical(a) === canonical(b);
}
