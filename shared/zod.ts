/**
 * Where every schema gets zod: `zod/mini`, the tree-shakable build of the same zod v4 (functions
 * such as `z.optional(s)` and checks such as `.check(z.minLength(1))` instead of methods). Classic
 * `zod` bundles the whole library with all its locales: about 750 KB of the CLI and the gateway
 * bundles and some 10 MiB of the gateway's resident memory at start; mini with English is ~65 KB.
 * Mini loads no locale, so its messages would all read "Invalid input": English is configured here,
 * before any importer builds or parses a schema, and user-facing messages stay zod's English ones.
 * Import it as `import * as z from '…/shared/zod'`, never from 'zod' or 'zod/mini' directly.
 */
import { en } from 'zod/locales';
import { config } from 'zod/mini';

config(en());

export * from 'zod/mini';
