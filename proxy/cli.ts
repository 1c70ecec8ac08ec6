#!/usr/bin/env -S node --max-semi-space-size=4 --heap-growing-percent=50 --single-threaded-gc
/**
 * The `creditgate` command line (docs/product.md §3, contract). The shebang carries shared/gatewayRuntime.ts's
 * GATEWAY_NODE_FLAGS (a test keeps the two in step). Every command works whether or not a gateway is
 * running on the data directory: they write to the same SQLite database, which is safe across
 * processes, and a running gateway sees the change on its next request.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { randomUUID } from 'node:crypto';
import { formatCredits, parseCredits } from '../shared/money';
import type { GrantRow, Status, UsageGroup, UsageRow } from '../shared/protocol';
import { USAGE_GROUP_KEYS } from '../shared/protocol';
import { ConfigError } from './config';
import { parseHostName, parseListenHost, type Parsed } from './config/values';
import * as operations from './accountOperations';
import { GatewayRunningError } from './gatewayLock';
import { formatSeats, formatStatus, formatGrants, formatUsage } from './cliFormat';
import { DEFAULT_SEAT } from './ledger/seats';
import type { Logger } from './gateway/context';
import type { TokenRole } from './ledger/tokens';
import { databaseOf, openBook, openPayments, serveGateway, serveTeamGateway, type BookAccount, type RuntimeLocation } from './runtime';
import type { PurchaseView } from '../shared/payments';
import type { PostgresLedger } from './ledger/postgres/postgresLedger';
import { PurchaseRefused, StripeFailure } from './payments/errors';
import type { Payments } from './payments/service';
import { parseDatabaseUrl } from './config/values';
import { stopOnSignals } from './stopSignals';
import { printable, printableLines, printableRows } from './terminalText';
import { toCsv, USAGE_GROUP_COLUMNS, USAGE_ROW_COLUMNS } from './usageCsv';

interface GlobalOptions {
  dataDir?: string;
  config?: string;
  database?: string;
  json?: boolean;
}

const program = new Command('creditgate')
  .description('A local usage-and-credits gateway for coding assistants.')
  .version(process.env.CREDITGATE_VERSION ?? '0.1.0')
  .option('--data-dir <dir>', 'data directory (default: $CREDITGATE_DATA_DIR or ~/.creditgate)')
  .option('--config <file>', 'config file (default: $CREDITGATE_CONFIG)')
  .option('--database <url>', 'keep the ledger on this PostgreSQL server (team mode; default: $CREDITGATE_DATABASE_URL, the config\'s "database", else the data directory)', parseDatabase)
  .option('--json', 'print machine-readable JSON')
  .showHelpAfterError();

function globals(command: Command): GlobalOptions & RuntimeLocation {
  const options = command.optsWithGlobals<GlobalOptions>();
  return { dataDir: options.dataDir, configFile: options.config, database: options.database, json: options.json };
}

/** Log lines go to stderr, stdout stays the command's output; what they quote may carry terminal escapes. */
const log: Logger = {
  info: (message) => console.error(`[creditgate] ${printableLines(message)}`),
  warn: (message) => console.error(`[creditgate] warning: ${printableLines(message)}`),
  error: (message) => console.error(`[creditgate] error: ${printableLines(message)}`),
};

/** Opens the account's ledger (on either store), runs one operation, closes it again. */
async function withAccount<T>(command: Command, run: (account: BookAccount) => Promise<T>): Promise<T> {
  const account = await openBook(globals(command), process.env, log);
  try {
    return await run(account);
  } finally {
    await account.book.close();
  }
}

/** The team ledger's payments (proxy/payments) for one command, acting as the owner (`cli`). */
async function withPayments<T>(command: Command, account: BookAccount, run: (payments: Payments) => Promise<T>): Promise<T> {
  const payments = await openPayments({
    ledger: account.book as PostgresLedger,
    databaseUrl: databaseOf(globals(command))!,
    rateCard: account.config.rateCard,
    env: process.env,
    log: { ...log, info: () => undefined },
  });
  try {
    return await run(payments);
  } finally {
    await payments.close();
  }
}

/** `credits buy`: Stripe's refusals and the rate card's, as the command's own errors. */
async function buyPack(payments: Payments, pack: string, port: number): Promise<PurchaseView> {
  try {
    return await payments.start({ name: operations.CLI_ACTOR, role: 'admin' }, { pack }, `http://127.0.0.1:${port}/creditgate/v1/checkout/done`);
  } catch (error) {
    if (error instanceof PurchaseRefused || error instanceof StripeFailure) throw new operations.OperationError(error.message);
    throw error;
  }
}

function parseDatabase(value: string): string {
  const parsed = parseDatabaseUrl(value);
  if (!parsed.ok) throw new InvalidArgumentError(parsed.message);
  return parsed.value;
}

function printStatus(command: Command, status: Status): void {
  console.log(globals(command).json ? JSON.stringify(status, null, 2) : formatStatus(status, Date.now()));
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new InvalidArgumentError('expected a port number 0–65535');
  return port;
}

/** A commander parser from one of the config's value parsers: the same rules on the flag as in the file. */
function flagParser<T>(parse: (text: string) => Parsed<T>): (text: string) => T {
  return (text) => {
    const parsed = parse(text);
    if (!parsed.ok) throw new InvalidArgumentError(parsed.message);
    return parsed.value;
  };
}

function collectHostName(text: string, previous: string[] = []): string[] {
  return [...previous, flagParser(parseHostName)(text)];
}

function parseAmount(value: string): number {
  const micro = parseCredits(value);
  if (micro === null || micro <= 0) throw new InvalidArgumentError('expected a positive number of credits with at most 6 decimals');
  return Number(formatCredits(micro));
}

interface ServeOptions {
  port?: number;
  host?: string;
  allowedHost?: string[];
  tlsCert?: string;
  tlsKey?: string;
}

program
  .command('serve')
  .description('run the gateway in the foreground (on 127.0.0.1 unless --host says otherwise)')
  .option('--port <n>', 'port to listen on (0 picks a free one; default: config, $CREDITGATE_PORT or 8788)', parsePort)
  .option('--host <addr>', 'IP address to listen on, e.g. 0.0.0.0 for a team gateway (default: config, or 127.0.0.1)', flagParser(parseListenHost))
  .option('--allowed-host <name>', 'a Host name clients may use besides localhost, 127.0.0.1 and [::1] (repeatable)', collectHostName)
  .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (chain); needs --tls-key')
  .option('--tls-key <file>', 'the PEM private key of --tls-cert')
  .action(async (options: ServeOptions, command: Command) => {
    if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
      throw new InvalidArgumentError('--tls-cert and --tls-key go together: give both (HTTPS) or neither (HTTP, or TLS at a reverse proxy)');
    }
    const tls = options.tlsCert !== undefined && options.tlsKey !== undefined ? { certFile: options.tlsCert, keyFile: options.tlsKey } : undefined;
    const network = { host: options.host, allowedHosts: options.allowedHost, tls };
    const location = { ...globals(command), port: options.port, network };
    const database = databaseOf(location);
    const running = database ? await serveTeamGateway({ ...location, database }, process.env, log) : await serveGateway(location, process.env, log);
    console.log(`listening on ${running.gateway.url}`);
    stopOnSignals((hurry) => running.stop({ hurry }), log);
  });

program
  .command('token')
  .description("issue a new token for a client (revokes its previous one); printed once, on the last line")
  .option('--name <name>', 'client name the token is for', 'default')
  .option('--seat <seat>', 'the seat a client token spends on (a team ledger; default: the default seat)')
  .option('--admin', 'an admin token: may also change the account over HTTP (credits, windows, plan, settings, seats)')
  .action(async (options: { name: string; seat?: string; admin?: boolean }, command: Command) => {
    const role: TokenRole = options.admin ? 'admin' : 'client';
    if (options.admin && options.seat !== undefined) throw new InvalidArgumentError('--admin and --seat do not go together: an admin token spends on no seat');
    const token = await withAccount(command, (account) =>
      options.seat === undefined ? account.book.issueToken(options.name, role) : operations.onSeats(account.book, () => account.book.issueToken(options.name, role, options.seat)),
    );
    if (globals(command).json) console.log(JSON.stringify({ name: options.name, role, ...(options.seat === undefined ? {} : { seat: options.seat }), token }));
    else {
      const may = role === 'admin' ? 'spend, read and change the account' : 'spend and read, not change the account';
      console.log(`New ${role} token for "${printable(options.name)}" (${may}; its previous token, if any, is revoked). It is shown only once:`);
      console.log(token);
    }
  });

program
  .command('status')
  .description('show the plan windows, the credit balance and the state')
  .action(async (_options: unknown, command: Command) => printStatus(command, await withAccount(command, (account) => account.book.status())));

const credits = program.command('credits').description('buy and list credits');
credits
  .command('add')
  .description('add purchased credits (idempotent with --key)')
  .argument('<amount>', 'credits to add', parseAmount)
  .option('--key <key>', 'idempotency key: repeating a purchase with the same key adds nothing')
  .addOption(new Option('--source <source>', 'grant source').choices(['purchase', 'promo', 'refund', 'admin']).default('purchase'))
  .option('--expires <iso>', 'expiry date of these credits (ISO-8601)')
  .action(async (amount: number, options: { key?: string; source: 'purchase' | 'promo' | 'refund' | 'admin'; expires?: string }, command: Command) => {
    if (options.expires !== undefined && Number.isNaN(Date.parse(options.expires))) throw new InvalidArgumentError('--expires must be an ISO-8601 date');
    const status = await withAccount(command, (account) =>
      operations.addCredits(
        account.book,
        { amount, idempotencyKey: options.key ?? `cli:${randomUUID()}`, source: options.source, expiresAt: options.expires },
        operations.CLI_ACTOR,
      ),
    );
    printStatus(command, status);
  });
credits
  .command('list')
  .description('list credit grants with what is left of each (on a team ledger, with the Stripe purchase that paid for each)')
  .action(async (_options: unknown, command: Command) => {
    const grants: GrantRow[] = await withAccount(command, async (account) => {
      const listed = await operations.listCredits(account.book);
      return account.book.store === 'postgres' ? withPayments(command, account, (payments) => payments.withReceipts(listed)) : listed;
    });
    console.log(globals(command).json ? JSON.stringify(grants, null, 2) : formatGrants(grants));
  });
credits
  .command('buy')
  .description("start a Stripe Checkout for one of the rate card's packs and print its URL (a team ledger, with STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET set)")
  .argument('<pack>', "the pack's credits (e.g. 500) or its label")
  .action(async (pack: string, _options: unknown, command: Command) => {
    const purchase = await withAccount(command, (account) => {
      if (account.book.store !== 'postgres') throw new operations.OperationError('buying credits is for a team ledger: give --database postgres://… (in individual mode, `credits add` tops up your own budget)');
      return withPayments(command, account, (payments) => buyPack(payments, pack, account.config.port));
    });
    if (globals(command).json) console.log(JSON.stringify(purchase, null, 2));
    else {
      console.log(`Purchase ${purchase.id}: ${purchase.credits} credits for ${purchase.price.toFixed(2)} ${purchase.currency.toUpperCase()}. Pay within the hour at:`);
      console.log(purchase.checkoutUrl);
    }
  });

program
  .command('windows')
  .description('plan windows')
  .command('reset')
  .description('close the open 5h and weekly windows (credits are untouched); on a team ledger, of every seat unless --seat names one')
  .option('--seat <seat>', 'only this seat (a team ledger)')
  .action(async (options: { seat?: string }, command: Command) => {
    const status = await withAccount(command, async (account) => {
      if (account.book.seats === null && options.seat === undefined) return operations.resetWindows(account.book, operations.CLI_ACTOR);
      return operations.onSeats(account.book, async (seats) => {
        await seats.resetWindows(operations.CLI_ACTOR, options.seat);
        return seats.status(options.seat ?? DEFAULT_SEAT);
      });
    });
    printStatus(command, status);
  });

const seat = program.command('seat').description("a team ledger's seats: each member's plan and windows, spending from the org's pool");
seat
  .command('add')
  .description('add a seat; prints a client token for it once, on the last line')
  .argument('<name>', 'seat name')
  .option('--plan <plan>', 'its plan (default: the config\'s plan)')
  .action(async (name: string, options: { plan?: string }, command: Command) => {
    const token = await withAccount(command, (account) => operations.onSeats(account.book, (seats) => seats.addSeat(name, options.plan, operations.CLI_ACTOR)));
    if (globals(command).json) console.log(JSON.stringify({ seat: name, token }));
    else {
      console.log(`Seat "${printable(name)}" added. Its client token (spends on this seat, shown only once):`);
      console.log(token);
    }
  });
seat
  .command('list')
  .description('list the seats with their plan, state and windows')
  .action(async (_options: unknown, command: Command) => {
    const statuses = await withAccount(command, (account) => operations.onSeats(account.book, (seats) => seats.listSeats()));
    if (globals(command).json) {
      console.log(JSON.stringify(statuses.map((s) => ({ name: s.seat, plan: s.plan, state: s.state, windows: s.windows })), null, 2));
    } else {
      console.log(formatSeats(statuses));
    }
  });
seat
  .command('plan')
  .description("set a seat's plan")
  .argument('<name>', 'seat name')
  .argument('<plan>', 'plan name')
  .action(async (name: string, plan: string, _options: unknown, command: Command) => {
    const status = await withAccount(command, (account) =>
      operations.onSeats(account.book, async (seats) => {
        await seats.setPlan(plan, operations.CLI_ACTOR, name);
        return seats.status(name);
      }),
    );
    printStatus(command, status);
  });
seat
  .command('overflow')
  .description("whether a seat goes on spending the team's pool once its windows are used up, and its weekly cap on it")
  .argument('<name>', 'seat name')
  .addArgument(new Command().createArgument('<on|off>', 'on: continue on pool credits; off: stop at the windows').choices(['on', 'off']))
  .option('--weekly-cap <credits>', 'pool credits the seat may spend a week, or "none"', (value: string) => (value === 'none' ? null : parseAmount(value)))
  .action(async (name: string, value: 'on' | 'off', options: { weeklyCap?: number | null }, command: Command) => {
    const weeklyCap = options.weeklyCap === undefined ? undefined : options.weeklyCap === null ? null : parseCredits(String(options.weeklyCap))!;
    const status = await withAccount(command, (account) =>
      operations.onSeats(account.book, async (seats) => {
        await seats.setOverflow(name, { continueOnPool: value === 'on', weeklyCap }, operations.CLI_ACTOR);
        return seats.status(name);
      }),
    );
    printStatus(command, status);
  });
seat
  .command('remove')
  .description('remove a seat: its tokens stop working, its history stays')
  .argument('<name>', 'seat name')
  .action(async (name: string, _options: unknown, command: Command) => {
    await withAccount(command, (account) => operations.onSeats(account.book, (seats) => seats.removeSeat(name, operations.CLI_ACTOR)));
    console.log(`Seat "${printable(name)}" removed; its tokens are revoked.`);
  });

program
  .command('plan')
  .description('the plan')
  .command('set')
  .description('choose the plan (built-in: free, plus, pro, business, enterprise; or one from the config)')
  .argument('<name>', 'plan name')
  .action(async (name: string, _options: unknown, command: Command) =>
    printStatus(command, await withAccount(command, (account) => operations.setPlan(account.book, name, operations.CLI_ACTOR))),
  );

program
  .command('auto-use')
  .description('turn automatic use of credits on or off once the plan allowance is used up')
  .addArgument(new Command().createArgument('<on|off>', 'on or off').choices(['on', 'off']))
  .action(async (value: 'on' | 'off', _options: unknown, command: Command) =>
    printStatus(command, await withAccount(command, (account) => operations.setAutoUseCredits(account.book, value === 'on', operations.CLI_ACTOR))),
  );

program
  .command('usage')
  .description('per-request usage, or totals grouped by day, model, client or feature')
  .option('--since <iso>', 'from this time (ISO-8601)')
  .option('--until <iso>', 'until this time (ISO-8601)')
  .addOption(new Option('--group-by <key>', 'group rows').choices(USAGE_GROUP_KEYS))
  .option('--csv', 'print CSV')
  .action(async (options: { since?: string; until?: string; groupBy?: (typeof USAGE_GROUP_KEYS)[number]; csv?: boolean }, command: Command) => {
    for (const [flag, value] of [['--since', options.since], ['--until', options.until]] as const) {
      if (value !== undefined && Number.isNaN(Date.parse(value))) throw new InvalidArgumentError(`${flag} must be an ISO-8601 date`);
    }
    const rows = await withAccount(command, (account) =>
      operations.usage(account.book, { since: options.since, until: options.until, groupBy: options.groupBy, format: 'json' }),
    );
    if (options.csv) {
      const shown = options.groupBy ? toCsv(printableRows(rows as UsageGroup[]), USAGE_GROUP_COLUMNS) : toCsv(printableRows(rows as UsageRow[]), USAGE_ROW_COLUMNS);
      process.stdout.write(shown);
    } else if (globals(command).json) {
      // One object per line: easy to stream into jq, and one row per request as docs/product.md §6 says.
      for (const row of rows) console.log(JSON.stringify(row));
    } else {
      console.log(formatUsage(rows, options.groupBy));
    }
  });

program
  .command('migrate')
  .description("bring the ledger's schema up to date (every command does this when needed; this does only that)")
  .action(async (_options: unknown, command: Command) => {
    const where = await withAccount(command, (account) => Promise.resolve(account.book.location));
    console.log(`ledger schema up to date: ${printable(where)}`);
  });

program
  .command('verify')
  .description("check the books: the balance, the debt and every grant's remainder against what the ledger's rows add up to")
  .action(async (_options: unknown, command: Command) => {
    const { location, problems } = await withAccount(command, async (account) => ({
      location: account.book.location,
      problems: await account.book.checkBooks(),
    }));
    if (globals(command).json) console.log(JSON.stringify({ ok: problems.length === 0, problems }, null, 2));
    else if (problems.length === 0) console.log(`the books balance: ${printable(location)}`);
    else console.log([`the books do not balance: ${printable(location)}`, ...problems.map((p) => `  - ${p}`)].join('\n'));
    // Non-zero, so that a scheduled check can alert on it.
    if (problems.length > 0) process.exitCode = 1;
  });

async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    // Messages quote names, keys and paths, any of which may carry terminal escapes.
    const message = printableLines(error instanceof Error ? error.message : String(error));
    const usageError = [ConfigError, GatewayRunningError, operations.OperationError, InvalidArgumentError].some((type) => error instanceof type);
    if (usageError) {
      console.error(`creditgate: ${message}`);
      process.exit(2);
    }
    console.error(`creditgate: ${message}`);
    process.exit(1);
  }
}

void main();
