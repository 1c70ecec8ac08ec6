import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { GATEWAY_NODE_FLAGS } from '../shared/gatewayRuntime';
import { TEST_CLI } from './helpers/buildCli';

describe('the gateway’s Node flags', () => {
  it('are the ones in the creditgate bin’s shebang and in npm start', () => {
    const shebang = fs.readFileSync(path.resolve(__dirname, '../proxy/cli.ts'), 'utf8').split('\n')[0];
    expect(shebang).toBe(`#!/usr/bin/env -S node ${GATEWAY_NODE_FLAGS.join(' ')}`);
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../package.json'), 'utf8'));
    expect(pkg.scripts.start).toContain(`node ${GATEWAY_NODE_FLAGS.join(' ')} dist/cli.js serve`);
  });

  it('let the bundled bin run directly through its shebang', () => {
    const version = execFileSync(TEST_CLI, ['--version'], { encoding: 'utf8' });
    expect(version.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
