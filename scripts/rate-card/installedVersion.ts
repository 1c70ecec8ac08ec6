/** The version of an installed catalogue package, read from its manifest beside its entry point. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export function installedVersion(packageName: string): string {
  // The catalogue packages export no ./package.json; their entry points sit in dist/, one level below it.
  const entry = createRequire(import.meta.url).resolve(packageName);
  const manifest = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
  if (manifest.name !== packageName || typeof manifest.version !== 'string') {
    throw new Error(`cannot read the version of ${packageName} beside ${entry}`);
  }
  return manifest.version;
}
