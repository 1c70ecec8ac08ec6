/**
 * What the user reads when the gateway process cannot start. The common case worth a hint:
 * better-sqlite3 is a native module built for the system Node; in desktop VS Code the extension host
 * is Electron, whose native ABI differs, so the module refuses to load there (as vscode-eslint's
 * users know, the fix is a `runtime` setting naming a real Node).
 */
const NATIVE_ABI_MISMATCH = /NODE_MODULE_VERSION|was compiled against a different Node\.js version|invalid ELF header|better_sqlite3\.node/;

export function explainStartFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (!NATIVE_ABI_MISMATCH.test(message)) return `Creditgate could not start: ${message}`;
  return (
    `Creditgate could not start: its SQLite module does not load in this runtime (${process.execPath}, ` +
    `Node ${process.versions.node}, ABI ${process.versions.modules}). Set "creditgate.runtime" to a Node 20 ` +
    `executable (for example /usr/bin/node) and restart the gateway. Details: ${message}`
  );
}
