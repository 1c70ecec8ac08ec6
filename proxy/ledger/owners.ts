/**
 * Who owns a hold: the process id plus an id per open Ledger, so that recover() can tell a hold of a
 * crashed process (or of an earlier Ledger in a process whose pid was reused) from a live one.
 */
import { randomUUID } from 'node:crypto';
import { isProcessAlive } from '../processAlive';

export interface HoldOwner {
  pid: number;
  instance: string;
}

/** Ledger instances open in this process; another open Ledger here is alive even though it is not us. */
const liveInstances = new Set<string>();

export function registerInstance(): HoldOwner {
  const instance = randomUUID();
  liveInstances.add(instance);
  return { pid: process.pid, instance };
}

export function unregisterInstance(owner: HoldOwner): void {
  liveInstances.delete(owner.instance);
}

export function isOwnerAlive(owner: HoldOwner): boolean {
  if (owner.pid === process.pid) return liveInstances.has(owner.instance);
  return isProcessAlive(owner.pid);
}
