/**
 * The o200k encoding as a bundle of its own (dist/o200k.js, see esbuild.mjs): its 2.4 MB of rank
 * data stay out of the gateway's main bundle, so they are neither parsed nor kept in memory until a
 * count is needed (tokens.ts).
 */
export { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
