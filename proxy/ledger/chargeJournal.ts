/**
 * The pending-charges journal: settlements (a hold's charge, or its void) that could not be written
 * because another process held the database locked, kept in a file beside the database until they
 * are. One JSON line per settlement, appended and fsynced before the gateway ends the client's
 * response; the file is removed once every line in it has landed in the database. A gateway that
 * starts finds any file a stopped or crashed one left and posts it before recovering holds
 * (Ledger.recover): idempotent by hold id, since a hold settles only once.
 */
import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open, rm } from 'node:fs/promises';
import { PRIVATE_FILE_MODE } from '../dataDir';
import type { Charge, Ledger } from './ledger';

export type KeptSettlement = { kind: 'post'; holdId: number; charge: Charge } | { kind: 'void'; holdId: number };

/** The journal of the database at `databasePath`. */
export function pendingChargesFile(databasePath: string): string {
  return `${databasePath}.pending-charges`;
}

/** Posts or voids the hold as the settlement says. */
export function settle(ledger: Pick<Ledger, 'post' | 'void'>, entry: KeptSettlement): void {
  if (entry.kind === 'post') ledger.post(entry.holdId, entry.charge);
  else ledger.void(entry.holdId);
}

/** The settlements in the journal, oldest first; none when there is no file. A torn last line (a crash mid-append) is skipped: its response never ended. */
export function readKeptSettlements(file: string): KeptSettlement[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const kept: KeptSettlement[] = [];
  for (const line of text.split('\n')) {
    const entry = parseLine(line);
    if (entry) kept.push(entry);
  }
  return kept;
}

export function removeKeptSettlements(file: string): void {
  fs.rmSync(file, { force: true });
}

/** One line's settlement; null for a blank, torn or unrecognisable line (JSON.parse refuses a blank one too). */
function parseLine(line: string): KeptSettlement | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  const entry = value as Partial<KeptSettlement> | null;
  if (!entry || !Number.isSafeInteger(entry.holdId)) return null;
  if (entry.kind === 'void') return entry as KeptSettlement;
  if (entry.kind === 'post' && typeof (entry as { charge?: unknown }).charge === 'object') return entry as KeptSettlement;
  return null;
}

/** Appends settlements to the journal and removes it once they have all landed. One operation at a time. */
export class ChargeJournal {
  private handle: FileHandle | null = null;
  /** Holds whose settlement is in the file (or on its way) and not yet in the database. */
  private readonly outstanding = new Set<number>();
  private chain: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  /** The journal beside a database file; null for an in-memory ledger (nothing survives it anyway). */
  static beside(databasePath: string): ChargeJournal | null {
    return databasePath === ':memory:' ? null : new ChargeJournal(pendingChargesFile(databasePath));
  }

  /** Resolves once the settlement is on disk (written and fsynced). */
  append(entry: KeptSettlement): Promise<void> {
    this.outstanding.add(entry.holdId);
    return this.serially(async () => {
      try {
        this.handle ??= await open(this.file, 'a', PRIVATE_FILE_MODE);
        await this.handle.appendFile(`${JSON.stringify(entry)}\n`);
        await this.handle.sync();
      } catch (error) {
        await this.closeHandle();
        throw error;
      }
    });
  }

  /** The hold's settlement is in the database now: once none is left, the file goes. */
  landed(holdId: number): void {
    // A hold this journal never kept (most settlements land at once): nothing to do.
    if (!this.outstanding.delete(holdId)) return;
    void this.serially(async () => {
      // Settlements still outstanding, or appended since, keep the file.
      if (this.outstanding.size > 0) return;
      await this.closeHandle();
      await rm(this.file);
    }).catch(() => undefined); // a file already gone needs nothing; one left behind is replayed harmlessly at the next start
  }

  /** Whether settlements are waiting in the file for the database. */
  get pending(): number {
    return this.outstanding.size;
  }

  /** Finishes what is under way and closes the file; settlements still outstanding stay in it for the next start. */
  async close(): Promise<void> {
    await this.chain;
    await this.closeHandle();
  }

  private async closeHandle(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    await handle?.close().catch(() => undefined);
  }

  private serially(operation: () => Promise<void>): Promise<void> {
    const run = this.chain.then(operation);
    this.chain = run.catch(() => undefined);
    return run;
  }
}
