/** Client tokens: random, shown once, stored only as a sha256 so a leaked database leaks no token. */
import { createHash, randomBytes } from 'node:crypto';

const TOKEN_PREFIX = 'cg_';

export function newToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
