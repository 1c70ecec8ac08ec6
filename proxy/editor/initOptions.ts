/** Reads the extension's initializationOptions defensively: anything malformed counts as unset. */
import { autoReloadSchema } from '../../shared/requests';
import type { GatewayInitOptions } from '../../shared/rpc';

const text = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined);

export function readInitOptions(raw: unknown): GatewayInitOptions {
  const source = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const port = source.port;
  return {
    dataDir: text(source.dataDir),
    configFile: text(source.configFile),
    port: typeof port === 'number' && Number.isInteger(port) && port >= 0 && port <= 65_535 ? port : undefined,
    plan: text(source.plan),
    autoUseCredits: typeof source.autoUseCredits === 'boolean' ? source.autoUseCredits : undefined,
    autoReload: source.autoReload === undefined ? undefined : autoReloadSchema.safeParse(source.autoReload).data,
  };
}
