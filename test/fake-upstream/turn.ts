/** One fake model turn: what every vendor's event sequence is rendered from. */
import type { FakeTerminal, FakeUsage } from './behavior';

export interface FakeTurn {
  id: string;
  model: string;
  /** Unix seconds. */
  created: number;
  /** The answer, one piece per delta event; `text` is their concatenation. */
  pieces: string[];
  text: string;
  /** null when the behavior omits usage. */
  usage: FakeUsage | null;
  terminal: FakeTerminal;
}

export function sseEvent(type: string | null, payload: unknown): string {
  const data = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return type === null ? `data: ${data}\n\n` : `event: ${type}\ndata: ${data}\n\n`;
}
