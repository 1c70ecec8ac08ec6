/**
 * Asks a port who is listening on it. A Creditgate gateway answers GET /healthz with an opaque
 * instance id that its lock file, in the private data directory, also holds (gatewayLock.ts): a
 * process that can read the data directory matches the two; any other local process learns nothing
 * about whose gateway it is. Anything else, or nothing, is "not ours".
 */
import http from 'node:http';
import type { LockOwner } from '../gatewayLock';
import { readLockOwner } from '../gatewayLock';
import * as z from '../../shared/zod';

const healthSchema = z.object({ ok: z.literal(true), app: z.literal('creditgate'), instance: z.string() });

export type GatewayHealth = z.infer<typeof healthSchema>;

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
    const parsed = healthSchema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Who answers on `port`: this data directory's gateway (its lock owner), another Creditgate gateway, or nothing of ours. */
export type PortHolder = { kind: 'ours'; owner: LockOwner } | { kind: 'other_creditgate' } | { kind: 'unknown' };

export async function whoHoldsPort(port: number, dataDir: string): Promise<PortHolder> {
  const health = await probeHealth(port);
  if (!health) return { kind: 'unknown' };
  const owner = readLockOwner(dataDir);
  return owner?.instance === health.instance ? { kind: 'ours', owner } : { kind: 'other_creditgate' };
}
