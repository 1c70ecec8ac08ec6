/**
 * A real, throwaway PostgreSQL server for the tests and benchmarks of the team store: initdb into a
 * temporary directory, pg_ctl start on a free loopback port, pg_ctl stop (and the directory removed)
 * at the end. Never an in-process imitation: the store's locking, isolation and NOTIFY are what the
 * team mode relies on, and only the real server has them.
 *
 * The server binaries come from Debian's `postgresql` package (`.ci/run` installs it). PostgreSQL
 * refuses to run as root, so under root the cluster belongs to the `postgres` user and its commands
 * run through `runuser`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { freePort } from './freePort';

export interface PostgresServer {
  /** `postgres://…` of the server's `postgres` database, as the superuser `creditgate`. */
  url: string;
  port: number;
  /** The server's own temporary directory (its data and log), removed by `close`. */
  directory: string;
  /** Creates an empty database and returns its URL (one per test file keeps them independent). */
  createDatabase(name?: string): Promise<string>;
  /** Stops the server process (immediate shutdown) without removing its data; `start` brings it back. */
  stopServer(): void;
  startServer(): void;
  /** Stops the server and removes its directory. */
  close(): void;
  /** The postmaster's pid while the server runs (its backends are its children), else null. */
  serverPid(): number | null;
}

const SUPERUSER = 'creditgate';

/** The directory of the server binaries: pg_config's answer, else the newest Debian install. */
export function postgresBinDir(): string | null {
  const fromPgConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  const candidates = fromPgConfig.status === 0 ? [fromPgConfig.stdout.trim()] : [];
  const debianRoot = '/usr/lib/postgresql';
  if (fs.existsSync(debianRoot)) {
    const versions = fs.readdirSync(debianRoot).sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((version) => path.join(debianRoot, version, 'bin')));
  }
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'initdb')) && fs.existsSync(path.join(dir, 'pg_ctl'))) ?? null;
}


const isRoot = (): boolean => process.getuid?.() === 0;

/** Runs a server binary as the user that owns the cluster. */
function runServerCommand(binDir: string, command: string, args: string[]): void {
  const binary = path.join(binDir, command);
  const [file, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', binary, ...args]] : [binary, args];
  execFileSync(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
}

export interface PostgresOptions {
  /**
   * Durability as a production server has it (fsync on). Tests turn it off: a throwaway cluster
   * need not survive a power cut, and fsync on a shared disk makes every commit a lottery.
   */
  durable?: boolean;
}

export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const binDir = postgresBinDir();
  if (!binDir) throw new Error('PostgreSQL server binaries not found: install Debian\'s "postgresql" package (.ci/run does)');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'creditgate-pg-'));
  const dataDir = path.join(root, 'data');
  const socketDir = path.join(root, 'socket');
  fs.mkdirSync(socketDir);
  if (isRoot()) execFileSync('chown', ['-R', 'postgres:postgres', root]);
  const port = await freePort();
  runServerCommand(binDir, 'initdb', ['-D', dataDir, '-U', SUPERUSER, '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync']);
  const settings = [
    `-p ${port}`,
    "-c listen_addresses='127.0.0.1'",
    `-c unix_socket_directories='${socketDir}'`,
    '-c max_connections=200',
    ...(options.durable ? [] : ['-c fsync=off', '-c full_page_writes=off']),
  ].join(' ');
  const start = (): void => runServerCommand(binDir, 'pg_ctl', ['-D', dataDir, '-o', settings, '-l', path.join(root, 'server.log'), '-w', 'start']);
  const stop = (): void => runServerCommand(binDir, 'pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
  start();
  let running = true;
  const url = `postgres://${SUPERUSER}@127.0.0.1:${port}/postgres`;
  let counter = 0;
  return {
    url,
    port,
    directory: root,
    async createDatabase(name = `test_${process.pid}_${++counter}`) {
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
      } finally {
        await client.end();
      }
      return `postgres://${SUPERUSER}@127.0.0.1:${port}/${encodeURIComponent(name)}`;
    },
    stopServer() {
      if (!running) return;
      stop();
      running = false;
    },
    startServer() {
      if (running) return;
      start();
      running = true;
    },
    serverPid() {
      if (!running) return null;
      // postmaster.pid's first line is the postmaster's pid (PostgreSQL's own lock file).
      const pid = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 ? pid : null;
    },
    close() {
      try {
        if (running) stop();
      } finally {
        running = false;
        fs.rmSync(root, { recursive: true, force: true });
      }
    },
  };
}

/** Runs one query on the database at `url` with a connection of its own, as an auditor would. */
export async function queryDatabase<T>(url: string, query: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(query, params)).rows as T[];
  } finally {
    await client.end();
  }
}
