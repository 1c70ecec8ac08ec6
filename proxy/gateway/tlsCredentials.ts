/**
 * Reads the certificate and key of `--tls-cert/--tls-key` and proves they make a TLS context before
 * the gateway listens: a wrong file must stop `creditgate serve` with one line naming it, not fail
 * every client's handshake later.
 */
import fs from 'node:fs';
import tls from 'node:tls';
import { ConfigError } from '../config';
import type { TlsCredentials } from './listenAddress';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export function readTlsCredentials(files: TlsFiles): TlsCredentials {
  const cert = readPem(files.certFile, '--tls-cert');
  const key = readPem(files.keyFile, '--tls-key');
  try {
    tls.createSecureContext({ cert, key });
  } catch (error) {
    // OpenSSL's reason, e.g. "key values mismatch" or "no start line" (not PEM).
    const reason = (error as Error).message.replace(/^error:[0-9A-F]+:/, '').replace(/\s+/g, ' ');
    throw new ConfigError([`--tls-cert ${files.certFile}, --tls-key ${files.keyFile}: not a usable certificate and private key (${reason})`]);
  }
  return { cert, key };
}

function readPem(file: string, flag: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found' : `cannot read the file (${code ?? String(error)})`;
    throw new ConfigError([`${flag} ${file}: ${reason}`]);
  }
}
