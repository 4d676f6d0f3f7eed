/**
 * End-to-end harness: the real VS Code workbench and extension host (code-server, see PLATFORM.md),
 * driven in Debian's Chromium through playwright-core. Each session gets a throw-away user-data
 * dir, extensions dir and copy of the fixture workspace, so tests never touch the repository or
 * the user's own VS Code state.
 *
 * Env:
 *   FC_CHROMIUM         browser binary (default /usr/bin/chromium)
 *   FC_CODE_SERVER_DIR  where scripts/install-code-server.sh put code-server (default .vscode-test/code-server)
 *   FC_E2E_KEEP=1       keep the temp folder (logs, user data) after the run
 *   FC_E2E_HEADED=1     show the browser window (needs a display)
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, symlinkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { chromium, type Browser, type FrameLocator, type Locator, type Page } from 'playwright-core';

export const repoRoot = resolve(__dirname, '..', '..');
export const resultsDir = join(repoRoot, 'test-results');
const fixtureWorkspace = join(__dirname, 'fixtures', 'workspace');
const installDir = process.env.FC_CODE_SERVER_DIR ?? join(repoRoot, '.vscode-test', 'code-server');

/** The first start compiles nothing but still loads the whole workbench: give it room. */
export const STARTUP_TIMEOUT_MS = 120_000;
/**
 * Budget of a `before` hook that starts a session: a first run installs code-server too
 * (145 s on an idle 2-core machine, 390 s on a loaded one; CI should run the installer first).
 */
export const SESSION_START_TIMEOUT_MS = 12 * 60_000;
export const UI_TIMEOUT_MS = 30_000;

interface Installed {
  node: string;
  entry: string;
  version: string;
}

/**
 * Runs the installer and returns where Node 24 and code-server are. The installer itself decides
 * whether its pinned version is already there (then it returns at once).
 */
function ensureCodeServer(): Installed {
  execFileSync('bash', [join(repoRoot, 'scripts', 'install-code-server.sh')], {
    stdio: ['ignore', 2, 2],
    env: { ...process.env, FC_CODE_SERVER_DIR: installDir },
  });
  const p = JSON.parse(readFileSync(join(installDir, 'paths.json'), 'utf8')) as Installed;
  return { ...p, node: resolve(installDir, p.node), entry: resolve(installDir, p.entry) };
}

function ensureBuilt(): { id: string; manifest: { publisher: string; name: string; version: string } } {
  for (const f of ['extension.js', 'engine.js']) {
    if (!existsSync(join(repoRoot, 'dist', f))) throw new Error(`dist/${f} is missing: run \`npm run build\` before the e2e tests`);
  }
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  return { id: `${manifest.publisher}.${manifest.name}-${manifest.version}`, manifest };
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

/** Settings that keep the workbench quiet: nothing should pop up over what the tests look at. */
const userSettings = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.enableExperiments': false,
  'workbench.reduceMotion': 'on',
  'telemetry.telemetryLevel': 'off',
  'extensions.ignoreRecommendations': true,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'update.mode': 'none',
  'update.showReleaseNotes': false,
  'security.workspace.trust.enabled': false,
  'git.enabled': false,
  'git.openRepositoryInParentFolders': 'never',
  'chat.disableAIFeatures': true,
  'chat.commandCenter.enabled': false,
  'github.copilot.enable': { '*': false },
  'window.commandCenter': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'editor.codeLens': true,
};

const chromiumFlags = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '');
}

/** Live sessions, so that a Ctrl-C or a crash still takes code-server's process group down. */
const live = new Set<VsCode>();
let exitHooked = false;
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const s of live) s.abort();
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const s of live) s.abort();
      process.exit(130);
    });
  }
}

/**
 * Puts stored results into a workspace, where the extension looks for them
 * (`.feature-complexity/`, each file under its own name); returns that folder.
 */
export function storeResults(workspace: string, files: readonly string[]): string {
  const dir = join(workspace, '.feature-complexity');
  mkdirSync(dir, { recursive: true });
  for (const f of files) cpSync(f, join(dir, basename(f)));
  return dir;
}

export interface StartOptions {
  /** Prefix of the screenshot names: test-results/<name>-<step>.png */
  name: string;
  /** Adds files to the workspace copy before VS Code opens it (activation events see them). */
  prepare?: (workspace: string) => void;
  /** User settings on top of the quiet defaults, also written as the server's Machine settings (where machine-scoped ones are read). */
  userSettings?: Record<string, unknown>;
  /**
   * Opens the workspace in Restricted Mode: Workspace Trust on (the other sessions run with it
   * off, i.e. trusted), the folder not trusted, and no startup prompt asking about it.
   */
  restricted?: boolean;
  /** Installs this VSIX into the fresh extensions folder (`--install-extension`) instead of the source tree's build. */
  vsix?: string;
}

export class VsCode {
  private shotCount = 0;
  private stopped = false;

  private constructor(
    readonly name: string,
    readonly tmp: string,
    readonly workspace: string,
    readonly extensionDir: string,
    readonly port: number,
    private readonly server: ChildProcess,
    readonly logFile: string,
    readonly browser: Browser,
    readonly page: Page,
  ) {}

  static async start(opts: StartOptions): Promise<VsCode> {
    const { id } = ensureBuilt();
    const cs = ensureCodeServer();
    hookExit();

    const tmp = mkdtempSync(join(tmpdir(), 'fc-e2e-'));
    const userData = join(tmp, 'user-data');
    const extensions = join(tmp, 'extensions');
    const workspace = join(tmp, 'workspace');
    mkdirSync(join(userData, 'User'), { recursive: true });
    const settings = {
      ...userSettings,
      ...(opts.restricted
        ? { 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never', 'security.workspace.trust.banner': 'always' }
        : {}),
      ...opts.userSettings,
    };
    writeFileSync(join(userData, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
    // code-server's window is a remote one: settings of machine scope (the extension's program
    // paths) are read from the server's Machine settings, as Remote-SSH users set them.
    if (opts.userSettings) {
      mkdirSync(join(userData, 'Machine'), { recursive: true });
      writeFileSync(join(userData, 'Machine', 'settings.json'), JSON.stringify(opts.userSettings, null, 2));
    }
    cpSync(fixtureWorkspace, workspace, { recursive: true });
    opts.prepare?.(workspace);
    let extensionDir = join(extensions, id);
    if (opts.vsix) {
      // Installed as a user installs it: code-server unpacks the VSIX into the empty extensions folder.
      const r = spawnSync(cs.node, [cs.entry, '--user-data-dir', userData, '--extensions-dir', extensions, '--install-extension', opts.vsix], {
        encoding: 'utf8',
        timeout: 120_000,
        env: { ...process.env, XDG_DATA_HOME: join(tmp, 'xdg-data'), XDG_CONFIG_HOME: join(tmp, 'xdg-config') },
      });
      if (r.status !== 0) throw new Error(`code-server --install-extension ${opts.vsix} failed (${r.status}): ${r.stderr || r.stdout}`);
      const installed = readdirSync(extensions).filter((d) => d.startsWith(id.replace(/-[^-]+$/, '')));
      if (installed.length !== 1) throw new Error(`the VSIX installed as ${JSON.stringify(readdirSync(extensions))}`);
      extensionDir = join(extensions, installed[0]);
    } else {
      // An unpacked extension folder named publisher.name-version is picked up as installed.
      // dist/engine.js bundles its dependencies except the packages it loads at run time (native
      // onnxruntime, h5wasm's worker, Dawn): those are linked in as the VSIX ships them.
      mkdirSync(extensionDir, { recursive: true });
      const runtime = JSON.parse(readFileSync(join(repoRoot, 'scripts', 'runtime-modules.json'), 'utf8')) as { modules: string[]; files: string[] };
      for (const p of ['package.json', 'dist', 'media', 'README.md', 'LICENSE', ...runtime.files]) {
        const from = join(repoRoot, p);
        if (existsSync(from)) cpSync(from, join(extensionDir, p), { recursive: true });
      }
      mkdirSync(join(extensionDir, 'node_modules'));
      for (const m of runtime.modules) {
        const from = join(repoRoot, 'node_modules', m);
        if (existsSync(from)) symlinkSync(from, join(extensionDir, 'node_modules', m), 'dir');
      }
    }
    // code-server writes a default config into ~/.config unless given one.
    const config = join(tmp, 'config.yaml');
    writeFileSync(config, 'auth: none\ncert: false\n');

    const port = await freePort();
    const logFile = join(tmp, 'code-server.log');
    const log = createWriteStream(logFile);
    const server = spawn(
      cs.node,
      [
        cs.entry,
        '--config',
        config,
        '--auth',
        'none',
        '--bind-addr',
        `127.0.0.1:${port}`,
        '--disable-telemetry',
        '--disable-update-check',
        ...(opts.restricted ? [] : ['--disable-workspace-trust']),
        '--disable-getting-started-override',
        '--user-data-dir',
        userData,
        '--extensions-dir',
        extensions,
        workspace,
      ],
      // Its own process group: code-server, its extension host and the engine the extension
      // forks all go down together with one kill(-pid).
      {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        // code-server keeps a heartbeat and logs under XDG_DATA_HOME; keep them in the temp folder.
        env: {
          ...process.env,
          VSCODE_CLI: undefined,
          ELECTRON_RUN_AS_NODE: undefined,
          XDG_DATA_HOME: join(tmp, 'xdg-data'),
          XDG_CONFIG_HOME: join(tmp, 'xdg-config'),
        },
      },
    );
    server.stdout?.pipe(log);
    server.stderr?.pipe(log);

    let browser: Browser | undefined;
    const partial = { kill: () => killGroup(server.pid, 'SIGKILL') };
    try {
      await waitForHttp(port, server, logFile);
      browser = await chromium.launch({
        executablePath: process.env.FC_CHROMIUM ?? '/usr/bin/chromium',
        headless: process.env.FC_E2E_HEADED !== '1',
        args: chromiumFlags,
        timeout: STARTUP_TIMEOUT_MS,
      });
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      const page = await context.newPage();
      const vs = new VsCode(opts.name, tmp, workspace, extensionDir, port, server, logFile, browser, page);
      live.add(vs);
      await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`, { timeout: STARTUP_TIMEOUT_MS });
      await vs.waitForWorkbench();
      if (opts.vsix) {
        // A freshly installed extension registers a moment after the workbench shows: its view in the Explorer says it is there.
        const t0 = Date.now();
        await page.locator('.pane-header', { hasText: 'Feature Complexity' }).first().waitFor({ state: 'visible', timeout: STARTUP_TIMEOUT_MS });
        process.stderr.write(`[e2e] the installed extension registered ${((Date.now() - t0) / 1000).toFixed(1)} s after the workbench showed\n`);
      }
      return vs;
    } catch (e) {
      await browser?.close().catch(() => undefined);
      partial.kill();
      throw new Error(`${e instanceof Error ? e.message : String(e)}\n--- code-server log (${logFile}) ---\n${tail(logFile)}`);
    }
  }

  private async waitForWorkbench(): Promise<void> {
    const page = this.page;
    await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: STARTUP_TIMEOUT_MS });
    // The Explorer lists the fixture once the workspace is open and the file service answered.
    await this.explorerRow('model.json').waitFor({ state: 'visible', timeout: STARTUP_TIMEOUT_MS });
  }

  /**
   * One row of the Explorer tree, matched by its exact file name; `depth` (1 = the workspace's top
   * level) tells apart files of the same name in different folders.
   */
  explorerRow(name: string, depth?: number): Locator {
    const rows = this.page.locator(
      depth === undefined ? '.explorer-folders-view .monaco-list-row' : `.explorer-folders-view .monaco-list-row[aria-level="${depth}"]`,
    );
    return rows.filter({ has: this.page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(name)}$`) }) });
  }

  /**
   * Closes a hover left open by the last pointer position (the Explorer shows a file's path over
   * the rows below it, where it takes the next click), by moving the pointer to the empty editor
   * area and pressing Escape.
   */
  async dismissHover(): Promise<void> {
    const size = this.page.viewportSize();
    if (size) await this.page.mouse.move(Math.round(size.width * 0.6), Math.round(size.height * 0.5));
    const hover = this.page.locator('.context-view .hover-contents');
    if ((await hover.count()) === 0) return;
    await this.page.keyboard.press('Escape');
    await hover.first().waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
  }

  /** Right-clicks an Explorer row and returns the labels of the context menu, then closes it. */
  async explorerContextMenu(name: string, step?: string): Promise<string[]> {
    await this.dismissHover();
    // A right-click alone selects the row without opening the file in an editor.
    await this.explorerRow(name).click({ button: 'right' });
    const menu = this.page.locator('.context-view .monaco-menu');
    await menu.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    const items = menu.locator('.action-item:not(.disabled) .action-label');
    await items.first().waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    const labels = (await items.allInnerTexts()).map((s) => s.trim()).filter((s) => s.length > 0);
    if (step) await this.screenshot(step);
    await this.page.keyboard.press('Escape');
    await menu.waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
    return labels;
  }

  /**
   * The context menu of a row once `accept` holds for it. Menu contributions of extensions are
   * registered a little after the Explorer shows, so the first right-click may come too early.
   */
  async explorerContextMenuWhen(name: string, accept: (labels: string[]) => boolean, step?: string, timeout = UI_TIMEOUT_MS): Promise<string[]> {
    const end = Date.now() + timeout;
    for (;;) {
      const labels = await this.explorerContextMenu(name);
      if (accept(labels) || Date.now() > end) {
        if (step) await this.explorerContextMenu(name, step);
        return labels;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** A section of the side bar (e.g. a view an extension contributes to the Explorer), expanded. */
  async viewPane(title: string): Promise<Locator> {
    const header = this.page.locator('.pane-header', { has: this.page.locator('h3.title', { hasText: new RegExp(`^${escapeRegExp(title)}$`) }) });
    await header.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();
    const pane = this.page.locator('.pane', { has: header });
    await pane.locator('.pane-body').waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    return pane;
  }

  /**
   * The content of the visible webview: VS Code hosts each webview in an iframe whose inner
   * `#active-frame` holds the extension's page.
   */
  webview(): FrameLocator {
    return this.page.locator('iframe.webview.ready:visible').last().contentFrame().frameLocator('#active-frame');
  }

  /** Expands (or collapses) an Explorer folder row, so that the rows under it show (or hide). */
  async explorerFolder(name: string, expanded: boolean): Promise<void> {
    const row = this.explorerRow(name);
    const want = String(expanded);
    // A click that lands while the tree re-renders (file events) can be lost: click until it shows.
    for (let attempt = 1; ; attempt++) {
      await row.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
      if ((await row.getAttribute('aria-expanded')) === want) return;
      await row.click();
      try {
        await this.page
          .locator('.explorer-folders-view .monaco-list-row[aria-expanded="' + want + '"]', {
            has: this.page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(name)}$`) }),
          })
          .waitFor({ state: 'visible', timeout: 5_000 });
        return;
      } catch (e) {
        if (attempt === 3)
          throw new Error(`Explorer folder ${name} did not ${expanded ? 'expand' : 'collapse'}; screenshot ${await this.screenshot(`folder-${name}`)}`, {
            cause: e,
          });
      }
    }
  }

  /**
   * Clicks `target` until `shown` is visible. A click on a tree row that lands while the tree
   * re-renders (a file event, a poll) is lost, as it would be for a user, who clicks again.
   */
  async clickUntil(target: Locator, shown: Locator, step: string, attempts = 3): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await target.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
      await target.click();
      try {
        await shown.waitFor({ state: 'visible', timeout: attempt === attempts ? UI_TIMEOUT_MS : 8_000 });
        return;
      } catch (e) {
        if (attempt === attempts) throw new Error(`${step}: ${attempts} clicks did not show it; screenshot ${await this.screenshot(step)}`, { cause: e });
      }
    }
  }

  /** The quick pick (or input box) that is open now, once it shows: its title, rows and the highlighted row. */
  async quickPick(title: string | RegExp, step?: string, timeout = UI_TIMEOUT_MS): Promise<QuickPick> {
    const widget = this.page.locator('.quick-input-widget');
    await widget.locator('.quick-input-title', { hasText: title }).waitFor({ state: 'visible', timeout });
    const rows = widget.locator('.quick-input-list .monaco-list-row');
    await rows.first().waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    const read = (sel: Locator) => sel.evaluateAll((els) => els.map((e) => (e.querySelector('.label-name')?.textContent ?? '').trim()));
    const items = await read(rows);
    const active = (await read(widget.locator('.quick-input-list .monaco-list-row.focused')))[0];
    const descriptions = await rows.evaluateAll((els) => els.map((e) => (e.querySelector('.label-description')?.textContent ?? '').trim()));
    if (step) await this.screenshot(step);
    return { title: (await widget.locator('.quick-input-title').innerText()).trim(), items, descriptions, active };
  }

  /** Accepts the open quick pick: the row labelled `label`, or the highlighted one. */
  async acceptQuickPick(label?: string): Promise<void> {
    const widget = this.page.locator('.quick-input-widget');
    if (label === undefined) {
      await this.page.keyboard.press('Enter');
    } else {
      const row = widget
        .locator('.quick-input-list .monaco-list-row')
        .filter({ has: this.page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(label)}$`) }) });
      await row.click();
    }
    // The next prompt may open at once in the same widget; wait only for this one to be answered.
    await this.page.waitForTimeout(200);
  }

  /** "Developer: Reload Window", then waits until the workbench is back with the Explorer listed. */
  async reloadWindow(): Promise<void> {
    const rows = await this.openPalette('Developer: Reload Window');
    const row = rows.filter({ has: this.page.locator('.label-name', { hasText: /^Developer: Reload Window$/ }) }).first();
    await row.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    const loaded = this.page.waitForEvent('load', { timeout: STARTUP_TIMEOUT_MS });
    await row.click();
    await loaded;
    await this.waitForWorkbench();
  }

  /** "Preferences: Color Theme" → the theme named `theme`, as a user switches it. */
  async setColorTheme(theme: string): Promise<void> {
    await this.runCommandKeepOpen('Preferences: Color Theme');
    // The palette's own input stays until the theme picker replaces it; its placeholder tells them apart.
    const input = this.page.locator('.quick-input-widget .quick-input-box input[placeholder*="Color Theme"]');
    await input.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await input.fill(theme.replace(/^Default /, ''));
    // The picker labels a theme by its name, which may leave out the "Default" of the setting's value.
    const label = theme.replace(/^Default /, '');
    const row = this.page
      .locator('.quick-input-widget .quick-input-list .monaco-list-row', {
        has: this.page.locator('.label-name', { hasText: new RegExp(`(^|\\s)${escapeRegExp(label)}$`) }),
      })
      .first();
    await row.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await row.click();
    await this.page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
  }

  /** Clicks one entry of an Explorer row's context menu. */
  async explorerContextMenuClick(name: string, label: string, depth?: number): Promise<void> {
    const menu = this.page.locator('.context-view .monaco-menu');
    const item = menu.locator('.action-item .action-label', { hasText: new RegExp(`^${escapeRegExp(label)}$`) });
    // Menu entries of extensions register a little after the Explorer shows, and on a loaded
    // machine a menu can open during a re-render of the tree: right-click again until it offers `label`.
    for (let attempt = 1; ; attempt++) {
      await this.dismissHover();
      await this.explorerRow(name, depth).click({ button: 'right' });
      try {
        await item.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS / 3 });
        break;
      } catch (e) {
        await this.page.keyboard.press('Escape');
        if (attempt === 3) throw e;
      }
    }
    await item.hover();
    await item.click();
    // A click that landed during a re-render leaves the menu open with the entry highlighted.
    await menu.waitFor({ state: 'hidden', timeout: 2000 }).catch(() => this.page.keyboard.press('Enter'));
  }

  private async openPalette(text: string): Promise<Locator> {
    const page = this.page;
    // F1 goes to whatever has focus; the editor area always forwards it to the workbench.
    await page
      .locator('.monaco-workbench')
      .focus()
      .catch(() => undefined);
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget .quick-input-box input');
    await input.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await input.fill(`>${text}`);
    return page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
  }

  /** Labels the command palette shows for a filter text (empty when nothing matches). */
  async paletteEntries(filter: string, step?: string): Promise<string[]> {
    const rows = await this.openPalette(filter);
    const widget = this.page.locator('.quick-input-widget');
    // Either rows show, or the "No matching commands" message does.
    await Promise.race([
      rows.first().waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS }),
      widget.locator('.quick-input-message', { hasText: /no matching/i }).waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS }),
    ]);
    const labels = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? e.textContent ?? ''));
    if (step) await this.screenshot(step);
    await this.page.keyboard.press('Escape');
    await widget.waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
    return labels;
  }

  /** Runs a command by its full palette title, e.g. "Feature Complexity: Show Engine Capabilities". */
  async runCommand(title: string): Promise<void> {
    await this.runCommandKeepOpen(title);
    await this.page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
  }

  /** Runs a palette command that opens a prompt of its own in the same widget. */
  async runCommandKeepOpen(title: string): Promise<void> {
    const rows = await this.openPalette(title);
    const row = rows.filter({ has: this.page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(title)}$`) }) }).first();
    await row.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await row.click();
  }

  /** The toast whose message contains `text`, once it shows. */
  async waitForNotification(text: string | RegExp, timeout = UI_TIMEOUT_MS): Promise<Notification> {
    const toast = this.page.locator('.notifications-toasts .notification-toast', { hasText: text }).last();
    try {
      await toast.waitFor({ state: 'visible', timeout });
    } catch (e) {
      // What the user saw instead is the first thing one wants when this fails.
      const shot = await this.screenshot('notification-timeout').catch(() => '(no screenshot)');
      const shown = await this.page
        .locator('.notifications-toasts .notification-list-item-message')
        .allInnerTexts()
        .catch(() => []);
      throw new Error(`no notification containing ${String(text)} within ${timeout} ms; toasts shown: ${JSON.stringify(shown)}; screenshot ${shot}`, {
        cause: e,
      });
    }
    const message = (await toast.locator('.notification-list-item-message').innerText()).trim();
    const icon = (await toast.locator('.notification-list-item-icon').getAttribute('class')) ?? '';
    const severity = /codicon-error/.test(icon) ? 'error' : /codicon-warning/.test(icon) ? 'warning' : 'info';
    return { message, severity, locator: toast };
  }

  /**
   * Answers the three prompts of a first analysis: `dataset` from the offered list, the target
   * layer the engine preselects, the `quick` budget. Returns the dataset and layer prompts as shown.
   */
  async answerAnalysisPrompts(dataset: string, step: string, engineTimeout: number): Promise<{ dataset: QuickPick; layer: QuickPick }> {
    const datasets = await this.quickPick(/^Dataset/, `${step}-dataset`);
    await this.acceptQuickPick(dataset);
    const layer = await this.quickPick(/^Target layer/, `${step}-layer`, engineTimeout);
    await this.acceptQuickPick();
    await this.quickPick(/^Training budget/);
    await this.acceptQuickPick('quick');
    return { dataset: datasets, layer };
  }

  /** Waits until the results panel's significance table has the row `label` (e.g. "l = 2", "residue Δf"). */
  async significanceRow(label: string, timeout = 60_000): Promise<void> {
    await this.webview()
      .locator('#block-significance vscode-data-grid-cell', { hasText: new RegExp(`^\\s*${escapeRegExp(label)}\\s*$`) })
      .first()
      .waitFor({ state: 'visible', timeout });
  }

  /**
   * The end of an analysis as the user sees it: the "finished" notification (an error or a
   * warning instead fails with its message), then the panel's table down to the row `lastRow`;
   * a screenshot `<step>-panel`, and the notifications cleared.
   */
  async analysisFinished(step: string, timeout: number, lastRow = 'l = 2'): Promise<void> {
    const done = await this.waitForNotification(/finished|failed|stopped|could not|error/i, timeout);
    if (done.severity !== 'info') throw new Error(`the analysis ended with a ${done.severity}: ${done.message}`);
    await this.significanceRow(lastRow);
    await this.screenshot(`${step}-panel`);
    await this.clearNotifications();
  }

  /** Clears every notification, so that the next wait cannot match an old one. */
  async clearNotifications(): Promise<void> {
    await this.runCommand('Notifications: Clear All Notifications');
    await this.page.locator('.notifications-toasts .notification-toast').first().waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
  }

  /** test-results/<name>-<NN>-<step>.png; returns the path. */
  async screenshot(step: string): Promise<string> {
    mkdirSync(resultsDir, { recursive: true });
    this.shotCount += 1;
    const file = join(resultsDir, `${safeName(this.name)}-${String(this.shotCount).padStart(2, '0')}-${safeName(step)}.png`);
    await this.page.screenshot({ path: file });
    return file;
  }

  /**
   * Engine child processes of this session only: same process group as our code-server, command
   * line `<extension>/dist/engine.js --rpc`. Other people's engines on the machine are never listed.
   */
  enginePids(): number[] {
    const pgid = this.server.pid;
    const enginePath = join(this.extensionDir, 'dist', 'engine.js');
    const pids: number[] = [];
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const args = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
        if (!args.includes('--rpc') || !args.some((a) => a === enginePath || a.endsWith(`${this.extensionDir}/dist/engine.js`))) continue;
        // Field 5 of /proc/PID/stat is the process group; the name (field 2) may hold spaces.
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(fields[2]) === pgid) pids.push(Number(d));
      } catch {
        // The process exited while we looked.
      }
    }
    return pids;
  }

  /** Polls a condition that has no DOM to wait on (process table, files). */
  async until<T>(what: string, probe: () => T | undefined | false, timeout = UI_TIMEOUT_MS): Promise<T> {
    const end = Date.now() + timeout;
    for (;;) {
      const v = probe();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  serverLog(): string {
    return tail(this.logFile);
  }

  killServerGroup(signal: NodeJS.Signals): void {
    killGroup(this.server.pid, signal);
  }

  /** Synchronous teardown for exit and signal handlers, where nothing can be awaited. */
  abort(): void {
    this.killServerGroup('SIGKILL');
    if (process.env.FC_E2E_KEEP !== '1') rmSync(this.tmp, { recursive: true, force: true });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    live.delete(this);
    await this.browser.close().catch(() => undefined);
    this.killServerGroup('SIGTERM');
    const exited = await waitForExit(this.server, 5_000);
    if (!exited) this.killServerGroup('SIGKILL');
    // Helpers that outlived the leader would keep the group alive.
    this.killServerGroup('SIGKILL');
    if (process.env.FC_E2E_KEEP !== '1') rmSync(this.tmp, { recursive: true, force: true });
    else console.log(`e2e: kept ${this.tmp}`);
  }
}

export interface QuickPick {
  title: string;
  /** Row labels, top to bottom (the rows the list has rendered). */
  items: string[];
  descriptions: string[];
  /** Label of the highlighted row: what Enter accepts. */
  active: string | undefined;
}

export interface Notification {
  message: string;
  severity: 'error' | 'warning' | 'info';
  locator: Locator;
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((res) => {
    const t = setTimeout(() => res(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      res(true);
    });
  });
}

async function waitForHttp(port: number, server: ChildProcess, logFile: string): Promise<void> {
  const end = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < end) {
    if (server.exitCode !== null || server.signalCode !== null) {
      throw new Error(`code-server exited (${server.exitCode ?? server.signalCode}) before listening`);
    }
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`code-server did not listen on ${port} within ${STARTUP_TIMEOUT_MS} ms (log: ${logFile})`);
}

function tail(file: string, n = 60): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
