/**
 * The notice for a model the rate card does not list (the gateway priced it by the card's default:
 * the shipped card's is the vendor's dearest listed model). Each model is told about once, ever: the
 * told models are kept in globalState, so neither a status push nor a reload repeats the notice.
 * Pure: the caller shows the message and persists `told()`.
 */
import type { Status } from '../../shared/protocol';

/** Told models remembered; the oldest are forgotten first (a model told about long ago may be told again). */
export const TOLD_MODELS_CAP = 200;

export class UnpricedModelNotices {
  private readonly toldModels: Set<string>;

  constructor(told: readonly unknown[] = []) {
    this.toldModels = new Set(told.filter((model): model is string => typeof model === 'string'));
  }

  /** The status's unpriced models not told about yet, each returned once. */
  observe(status: Status): string[] {
    const fresh = (status.unpricedModels ?? []).filter((model) => !this.toldModels.has(model));
    for (const model of fresh) this.toldModels.add(model);
    while (this.toldModels.size > TOLD_MODELS_CAP) this.toldModels.delete(this.toldModels.values().next().value!);
    return fresh;
  }

  told(): string[] {
    return [...this.toldModels];
  }
}

export type UnpricedModelAction = 'Set Rate Card File';

export function unpricedModelMessage(model: string): { text: string; actions: UnpricedModelAction[] } {
  return {
    text:
      `Creditgate: "${model}" is not on the rate card, so it was billed at the card's default price ` +
      "(the built-in card's is its vendor's dearest listed model). To bill it at its own price, add a " +
      `"${model}" entry to the "models" of your own rate card (start from a copy of the built-in one) and ` +
      'name the file in the creditgate.rateCardFile setting.',
    actions: ['Set Rate Card File'],
  };
}
