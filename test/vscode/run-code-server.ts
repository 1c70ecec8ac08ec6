/**
 * End-to-end check of the packaged extension in a real VS Code workbench (code-server 4.100.3 +
 * Debian Chromium via playwright-core; see /work/shared/REAL-EDITOR.md):
 *   1. package the .vsix (`npm run package`), install code-server into .cache/ if needed;
 *   2. start code-server isolated with the extension installed and a fresh Creditgate data dir;
 *   3. wait for the status bar item (`% left`), open its tooltip;
 *   4. run "Creditgate: Add Credits…", pick the first pack, confirm, and check the status bar shows
 *      the new balance within 1 s.
 * Screenshots of every step go to test-artifacts/editor/. Run: `npm run test:editor`
 * (`-- --no-package` reuses creditgate.vsix; `-- --keep` leaves the temp folder for inspection).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { freePort, installCodeServer, startWorkbench, type Workbench } from './codeServer';

const REPO = path.resolve(__dirname, '../..');
const ARTIFACTS = path.join(REPO, 'test-artifacts', 'editor');
const CACHE = process.env.CREDITGATE_EDITOR_CACHE ?? path.join(REPO, '.cache', 'code-server');
const VSIX = path.join(REPO, 'creditgate.vsix');
const STATUS_ITEM = '#workbench\\.parts\\.statusbar .statusbar-item';

const started = Date.now();
const log = (line: string): void => console.log(`[editor-test +${((Date.now() - started) / 1000).toFixed(1)}s] ${line}`);

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
  log(`screenshot ${name}.png`);
}

async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await input.waitFor({ state: 'visible' });
  await input.fill(`>${title}`);
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: title.replace(/^Creditgate: /, '') }).first().waitFor();
  await page.keyboard.press('Enter');
}

async function drive(workbench: Workbench): Promise<void> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'creditgate-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(`${workbench.url}/?folder=${encodeURIComponent(workbench.workspace)}`);
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    log('workbench visible');
    await shot(page, '01-workbench');

    const item = page.locator(STATUS_ITEM, { hasText: '% left' });
    await item.waitFor({ timeout: 60_000 });
    const text = (await item.innerText()).trim();
    log(`status bar: "${text}"`);
    if (!/^\d+% left \(5h\) · 0 cr$/.test(text.replace(/\s+/g, ' '))) throw new Error(`unexpected status bar text: ${text}`);
    await shot(page, '02-status-bar');

    await item.hover();
    const hover = page.locator('.monaco-hover', { hasText: 'Creditgate' });
    await hover.waitFor({ timeout: 10_000 });
    const tooltip = await hover.innerText();
    for (const expected of ['5h', 'weekly', 'Balance', 'Burn rate']) if (!tooltip.includes(expected)) throw new Error(`tooltip lacks "${expected}": ${tooltip}`);
    await shot(page, '03-tooltip');
    await page.mouse.move(10, 10);

    await runCommand(page, 'Creditgate: Add Credits…');
    const pack = page.locator('.quick-input-widget .monaco-list-row', { hasText: 'credits' }).first();
    await pack.waitFor();
    const packLabel = (await pack.innerText()).split('\n')[0] ?? '';
    await shot(page, '04-add-credits-pick');
    await page.keyboard.press('Enter');
    const confirm = page.locator('.monaco-dialog-box .monaco-button', { hasText: 'Add Credits' });
    await confirm.waitFor();
    await shot(page, '05-add-credits-confirm');
    const credits = Number(/^([\d,]+)/.exec(packLabel)?.[1]?.replace(/,/g, '') ?? NaN);
    await confirm.click();
    const clicked = Date.now();
    await page.locator(STATUS_ITEM, { hasText: `${credits.toLocaleString('en-US')} cr` }).waitFor({ timeout: 5_000 });
    const latency = Date.now() - clicked;
    log(`status bar shows ${credits} cr ${latency} ms after the confirmation`);
    await shot(page, '06-after-purchase');
    if (latency > 1_000) throw new Error(`the status bar took ${latency} ms to show the new balance (budget 1 s)`);
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = new Set(process.argv.slice(2));
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  if (!args.has('--no-package') || !fs.existsSync(VSIX)) {
    execFileSync('npm', ['run', 'package', '--silent'], { cwd: REPO, stdio: 'ignore' });
    log('packaged creditgate.vsix');
  }
  const codeServer = installCodeServer(CACHE, log);
  log('code-server ready');

  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'creditgate-editor-'));
  const gatewayPort = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, CREDITGATE_DATA_DIR: path.join(root, 'creditgate-data') };
  for (const name of ['CREDITGATE_CONFIG', 'CREDITGATE_PORT', 'OPENAI_API_KEY', 'ANTHROPIC_API_KEY']) delete env[name];
  const workbench = await startWorkbench({
    codeServer,
    root,
    vsix: VSIX,
    settings: { 'creditgate.port': gatewayPort, 'creditgate.plan': 'plus' },
    env,
    log,
  });
  log(`code-server on ${workbench.url}`);
  let failed = false;
  try {
    await drive(workbench);
  } catch (error) {
    failed = true;
    console.error(error);
    console.error(`code-server log: ${path.join(root, 'code-server.log')}`);
  } finally {
    await workbench.stop();
    if (!failed && !args.has('--keep')) fs.rmSync(root, { recursive: true, force: true });
  }
  log(failed ? 'FAILED' : 'passed');
  process.exitCode = failed ? 1 : 0;
}

void main();
