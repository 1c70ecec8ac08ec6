/**
 * `npm run test:vscode`: the in-editor suite (test/vscode/suite/) in a desktop VS Code through
 * `@vscode/test-electron`'s `runTests` — for machines where one is installed: set VSCODE_EXECUTABLE to
 * its executable (nothing is downloaded). @vscode/test-electron 2.x is used because 3.x needs Node 22.
 * The extension is loaded from this checkout (extensionDevelopmentPath, after `npm run build`); the
 * gateway runs on this process's Node (`creditgate.runtime`), since better-sqlite3 is built for Node,
 * not for VS Code's Electron; its upstream is the project's fake upstream, started here.
 * `-- --code-server` runs the same suite in code-server instead (the payload described in test/vscode/README.md, with
 * extensionDevelopmentPath/extensionTestsPath, Chromium via playwright-core), as on these machines.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { runTests } from '@vscode/test-electron';
import { installCodeServer, startWorkbench } from './codeServer';
import { freePort } from '../helpers/freePort';
import { health, processesMentioning, startGatewayFixture, type GatewayFixture } from './gatewayTraffic';

const REPO = path.resolve(__dirname, '../..');
/** Inside the extension's folder on purpose: the suite then shares the extension's `vscode` object. */
const SUITE = path.join(REPO, '.cache', 'vscode-suite', 'index.js');
const CLI = path.join(REPO, 'dist', 'cli.js');
const NO_VSCODE = 'no desktop VS Code here; set VSCODE_EXECUTABLE to the path of its executable (e.g. /usr/share/code/code), or run the same suite in code-server with `npm run test:vscode -- --code-server` (the full UI flow: `npm run test:editor`)';

const log = (line: string): void => console.log(`[test:vscode] ${line}`);

async function buildAll(): Promise<void> {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: REPO, stdio: 'inherit' });
  await build({
    entryPoints: [path.join(__dirname, 'suite', 'index.ts')],
    outfile: SUITE,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['vscode'],
    logLevel: 'warning',
  });
}

async function inDesktopVsCode(executable: string, root: string, fixture: GatewayFixture): Promise<number> {
  const udd = path.join(root, 'udd');
  fs.mkdirSync(path.join(udd, 'User'), { recursive: true });
  fs.writeFileSync(
    path.join(udd, 'User', 'settings.json'),
    JSON.stringify({ 'creditgate.runtime': process.execPath, 'security.workspace.trust.enabled': false, 'workbench.startupEditor': 'none' }, null, 2),
  );
  const workspace = path.join(root, 'workspace');
  fs.mkdirSync(workspace);
  try {
    return await runTests({
      vscodeExecutablePath: executable,
      extensionDevelopmentPath: REPO,
      extensionTestsPath: SUITE,
      extensionTestsEnv: fixture.env,
      launchArgs: [workspace, '--user-data-dir', udd, '--extensions-dir', path.join(root, 'exts'), '--disable-workspace-trust', '--skip-welcome', '--skip-release-notes'],
    });
  } catch (error) {
    console.error(error);
    return 1;
  }
}

async function inCodeServer(root: string, fixture: GatewayFixture): Promise<number> {
  const codeServer = installCodeServer(process.env.CREDITGATE_EDITOR_CACHE ?? path.join(REPO, '.cache', 'code-server'), log);
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('CREDITGATE_')) delete env[name];
  const workbench = await startWorkbench({ codeServer, root, settings: {}, env: { ...env, ...fixture.env }, log });
  const profile = path.join(root, 'chromium-profile');
  fs.mkdirSync(profile);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const exited = new Promise<number>((resolve) => {
      void page.exposeFunction('codeAutomationExit', (code: number) => resolve(code));
    });
    // Only the suite's own lines and real errors (not the workbench's gallery host or vsda noise).
    await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) => {
      const text = args.map(String).join(' ');
      if (text.includes('[in-editor suite]') || (type === 'error' && !/open-vsx|vsda|gallery/i.test(text))) console.log(`[extension host ${type}] ${text}`);
    });
    const remote = (file: string): string => `vscode-remote://${new URL(workbench.url).host}${file}`;
    const payload = JSON.stringify([
      ['extensionDevelopmentPath', remote(REPO)],
      ['extensionTestsPath', remote(SUITE)],
    ]);
    await page.goto(`${workbench.url}/?folder=${encodeURIComponent(workbench.workspace)}&payload=${encodeURIComponent(payload)}`);
    const timeout = new Promise<number>((resolve) => setTimeout(() => resolve(124), 180_000).unref());
    const code = await Promise.race([exited, timeout]);
    if (code === 124) console.error('the in-editor suite did not finish within 3 minutes');
    fs.mkdirSync(path.join(REPO, 'test-artifacts', 'vscode'), { recursive: true });
    await page.screenshot({ path: path.join(REPO, 'test-artifacts', 'vscode', 'in-editor-suite.png') });
    return code;
  } finally {
    await context.close();
    await workbench.stop();
  }
}

async function main(): Promise<void> {
  const viaCodeServer = process.argv.includes('--code-server');
  const executable = process.env.VSCODE_EXECUTABLE;
  if (!viaCodeServer && (!executable || !fs.existsSync(executable))) {
    console.error(executable ? `VSCODE_EXECUTABLE=${executable} does not exist. ${NO_VSCODE}` : NO_VSCODE);
    process.exitCode = 1;
    return;
  }
  await buildAll();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'creditgate-vscode-'));
  let fixture: GatewayFixture | null = null;
  let code = 1;
  try {
    fixture = await startGatewayFixture(root, await freePort(), CLI);
    code = viaCodeServer ? await inCodeServer(root, fixture) : await inDesktopVsCode(executable!, root, fixture);
  } finally {
    await fixture?.close();
    const leftovers = processesMentioning(root);
    for (const { pid } of leftovers) process.kill(pid, 'SIGKILL');
    if (leftovers.length > 0 || (fixture && (await health(fixture)))) {
      console.error(`left running after the editor closed: ${leftovers.map((p) => p.cmdline.slice(0, 120)).join('; ')}`);
      code = code || 1;
    }
    if (code === 0) fs.rmSync(root, { recursive: true, force: true });
  }
  log(code === 0 ? 'in-editor suite passed' : `in-editor suite FAILED (${code}); files kept in ${root}`);
  process.exitCode = code;
}

void main();
