export { DEFAULT_MAX_BODY_BYTES, DEFAULT_PLAN, DEFAULT_PORT, DEFAULT_UPSTREAM_TIMEOUT_MS, DEFAULT_UPSTREAMS } from './defaults';
export { ConfigError } from './errors';
export type { AutoReloadConfig, ResolvedConfig } from './load';
export { loadConfig } from './load';
export { resolveConfigFile, resolveDataDir } from './paths';
