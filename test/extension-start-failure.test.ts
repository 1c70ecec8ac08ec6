import { describe, expect, it } from 'vitest';
import { explainStartFailure } from '../proxy/editor/startFailure';

describe('explainStartFailure', () => {
  it('points at creditgate.runtime when the native SQLite module was built for another Node', () => {
    const error = new Error(
      "The module '/ext/node_modules/better-sqlite3/build/Release/better_sqlite3.node' was compiled against a different Node.js version using NODE_MODULE_VERSION 115. This version of Node.js requires NODE_MODULE_VERSION 128.",
    );
    const message = explainStartFailure(error);
    expect(message).toContain('"creditgate.runtime"');
    expect(message).toContain('NODE_MODULE_VERSION 115');
  });

  it('passes other failures through as they are', () => {
    expect(explainStartFailure(new Error('port 8788 is used by another program'))).toBe('Creditgate could not start: port 8788 is used by another program');
  });
});
