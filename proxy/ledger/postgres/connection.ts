/**
 * Connections to the team ledger's PostgreSQL server: bigint columns parsed to exact JS numbers (they
 * hold micro-credits and unix ms, far below 2^53), and every failure to reach the server reported as
 * the ledger's `unavailable` error, naming the server without its password.
 */
import pg from 'pg';
import { LedgerError } from '../errors';

const INT8_OID = 20;

function parseBigint(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new LedgerError('internal', `a ledger integer is outside the exact range: ${value}`);
  return n;
}

/** node-postgres' type parsers with bigint as a checked number. */
export const LEDGER_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): unknown =>
    oid === INT8_OID ? parseBigint : (pg.types.getTypeParser(oid, format ?? 'text') as unknown)) as typeof pg.types.getTypeParser,
};

/** The URL without its password, for messages and logs. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an unparsable database URL)';
  }
}

/** SQLSTATE classes that mean the server could not be reached or went away, not that a statement was wrong. */
const UNREACHABLE_CLASSES = ['08', '57'];
const UNREACHABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE', 'EAI_AGAIN']);

/** Whether `error` says the server is out of reach (down, restarting, network gone). */
export function isUnreachable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (UNREACHABLE_NODE_CODES.has(code) || UNREACHABLE_CLASSES.includes(code.slice(0, 2)))) return true;
  return /Connection terminated|Client has encountered a connection error|connection is closed|Client was closed/i.test(error.message);
}

/** A failure to reach the server as the ledger's error; any other error as it is. */
export function unavailable(error: unknown, url: string): unknown {
  if (error instanceof LedgerError || !isUnreachable(error)) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new LedgerError('unavailable', `the ledger database ${redactedUrl(url)} cannot be reached (${reason}); nothing was recorded`);
}

export function newClient(url: string): pg.Client {
  return new pg.Client({ connectionString: url, types: LEDGER_TYPES, application_name: 'creditgate' });
}

export function newPool(url: string, max: number): pg.Pool {
  return new pg.Pool({ connectionString: url, types: LEDGER_TYPES, application_name: 'creditgate', max });
}
