/** Client tokens: random, shown once, stored only as a sha256 so a leaked database leaks no token. */
import { createHash, randomBytes } from 'node:crypto';

const TOKEN_PREFIX = 'cg_';

/**
 * What a token may do over HTTP (docs/product.md §2, §8): a `client` token spends on the metered routes and reads
 * the account; an `admin` token may also change it (credits, windows, plan, settings). The CLI and the
 * editor act as the owner without a token.
 */
export const TOKEN_ROLES = ['client', 'admin'] as const;
export type TokenRole = (typeof TOKEN_ROLES)[number];

/** Who presented a live token: the client name usage is attributed to, and its role. */
export interface AuthenticatedClient {
  name: string;
  role: TokenRole;
  /** On a team's ledger: the seat a client token spends on (docs/product.md §8). */
  seat?: string;
}

export function newToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
