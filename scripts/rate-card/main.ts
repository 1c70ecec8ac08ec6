/**
 * `npm run rate-card`: writes shared/default-rate-card.json from the installed catalogues (prices,
 * output limits) and the overlay. `--check` (run by the build) only compares, and fails when the committed card is not what
 * they make, e.g. after the catalogue was updated without regenerating the card.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadCatalogue } from './catalogue';
import { generateRateCard } from './generate';
import { loadOutputLimits } from './outputLimits';
import { loadOverlay } from './overlay';

const CARD_FILE = fileURLToPath(new URL('../../shared/default-rate-card.json', import.meta.url));
const CARD_NAME = 'shared/default-rate-card.json';

function main(check: boolean): number {
  const catalogue = loadCatalogue();
  const text = generateRateCard(catalogue, loadOverlay(), loadOutputLimits());
  let current: string | null = null;
  try {
    current = readFileSync(CARD_FILE, 'utf8');
  } catch {
    // No card yet: written below, or reported as out of date.
  }
  if (current === text) {
    if (!check) console.log(`${CARD_NAME} is up to date with ${catalogue.name} ${catalogue.version}.`);
    return 0;
  }
  if (check) {
    console.error(
      `${CARD_NAME} is not what ${catalogue.name} ${catalogue.version} and scripts/rate-card/overlay.json make: ` +
        'run `npm run rate-card` and commit the card.',
    );
    return 1;
  }
  writeFileSync(CARD_FILE, text);
  console.log(`Wrote ${CARD_NAME} from ${catalogue.name} ${catalogue.version}.`);
  return 0;
}

process.exitCode = main(process.argv.includes('--check'));
