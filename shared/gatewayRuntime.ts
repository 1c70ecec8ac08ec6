/**
 * The Node flags every gateway process runs with, wherever it is launched from (the `creditgate`
 * bin's shebang, `npm start`, the extension's server options, the benchmark).
 *
 * `--max-semi-space-size=8` caps V8's young generation at 8 MiB per semi-space instead of 16: under
 * 32 concurrent streams the gateway's peak RSS measured 94 MiB instead of 107–123 MiB, with the
 * same latency. Smaller values (4) promoted streaming objects early and grew the old space instead.
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];
