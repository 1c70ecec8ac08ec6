/**
 * Where the gateway listens and who may address it (docs/product.md §8 "Beyond loopback"). On its own
 * the gateway is a loopback service; `creditgate serve --host` puts it on another address, where the
 * Host names it answers to are the loopback names plus those allowed by name, and TLS is either ours
 * (`--tls-cert/--tls-key`) or a reverse proxy's.
 */
import { isIP } from 'node:net';

/** A certificate chain and its private key, PEM, as read from the files named. */
export interface TlsCredentials {
  cert: Buffer;
  key: Buffer;
}

export interface ListenAddress {
  /** An IP address (IPv6 without brackets). */
  host: string;
  /** Host header names accepted besides the loopback ones, lower case, IPv6 in brackets. */
  allowedHosts: readonly string[];
  /** Serve HTTPS with these; null serves plain HTTP. */
  tls: TlsCredentials | null;
}

export const LOOPBACK_ADDRESS: ListenAddress = { host: '127.0.0.1', allowedHosts: [], tls: null };

/** Every interface of the machine: who can reach it is up to the network, not the gateway. */
export function isWildcardAddress(host: string): boolean {
  return isIP(host) !== 0 && /^(0\.0\.0\.0|::|::0|0:0:0:0:0:0:0:0|::ffff:0\.0\.0\.0)$/i.test(host);
}

/** 127.0.0.0/8 and ::1: reachable from this machine only. */
export function isLoopbackAddress(host: string): boolean {
  return (isIP(host) === 4 && host.startsWith('127.')) || /^(::1|0:0:0:0:0:0:0:1|::ffff:127\.\d+\.\d+\.\d+)$/i.test(host);
}

/**
 * The names a client of this address may send as Host: the ones allowed by name, and the address
 * itself when it is one (an IP literal cannot be rebound to another machine by DNS).
 */
export function acceptedHostNames(address: ListenAddress): string[] {
  const literal = isWildcardAddress(address.host) ? [] : [isIP(address.host) === 6 ? `[${address.host}]` : address.host];
  return [...literal, ...address.allowedHosts];
}

/** The gateway's base URL on this address and port. */
export function gatewayUrl(address: ListenAddress, port: number): string {
  const host = isIP(address.host) === 6 ? `[${address.host}]` : address.host;
  return `${address.tls ? 'https' : 'http'}://${host}:${port}`;
}
