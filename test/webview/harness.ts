// Runs the webview app in real headless Chromium (Debian's /usr/bin/chromium through
// playwright-core) on the page the host builds (webview/page.ts: same strict CSP, nonce'd
// script), with a fake acquireVsCodeApi that records what the app posts, and VS Code's theme
// variables for a light or a dark theme. Every page records CSP violations, console errors,
// uncaught exceptions and requests that leave the webview's origin, so tests can fail on any.
import * as crypto from 'crypto';
import * as esbuild from 'esbuild';
import * as fs from 'fs';
import * as path from 'path';
import { Browser, Page, chromium } from 'playwright-core';
import type { HostToWebview } from '../../src/protocol';
import type { webviewPage as WebviewPageBuilder } from '../../webview/page';
import { ROOT } from './fixtures';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ORIGIN = 'https://webview.convlens.test';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** Bundles webview/main.ts as the extension build does (esbuild.mjs: browser, iife, .css as text). */
export async function buildWebview(): Promise<string> {
  const result = await esbuild.build({
    entryPoints: [path.join(ROOT, 'webview/main.ts')],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    loader: { '.css': 'text' },
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

/**
 * The host's page builder (webview/page.ts). The test build transpiles only src/ and test/, so it
 * is bundled here for Node and loaded from out/.
 */
export async function loadPageBuilder(): Promise<typeof WebviewPageBuilder> {
  const outfile = path.join(ROOT, 'out', 'webview-test', 'page.js');
  await esbuild.build({ entryPoints: [path.join(ROOT, 'webview/page.ts')], bundle: true, platform: 'node', format: 'cjs', outfile, logLevel: 'silent' });
  return (require(outfile) as { webviewPage: typeof WebviewPageBuilder }).webviewPage;
}

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`the webview tests need Chromium at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (Debian/Ubuntu) or set CHROMIUM_PATH`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
}

export type Theme = 'light' | 'dark' | 'high-contrast';

/** A message the app posted; requests carry their fields under `params`. */
export type Posted = Record<string, unknown> & { requestId?: string; params?: Record<string, unknown> };

// A subset of the variables VS Code sets on a webview's <html>: [Dark Modern, Light Modern] values.
const THEME_VARIABLES: Record<string, [dark: string, light: string]> = {
  'font-family': ['system-ui, "Ubuntu", "Droid Sans", sans-serif', 'system-ui, "Ubuntu", "Droid Sans", sans-serif'],
  'font-size': ['13px', '13px'],
  'font-weight': ['normal', 'normal'],
  'editor-font-family': ['"Droid Sans Mono", monospace', '"Droid Sans Mono", monospace'],
  foreground: ['#cccccc', '#3b3b3b'],
  descriptionForeground: ['#9d9d9d', '#3b3b3b'],
  errorForeground: ['#f85149', '#f85149'],
  focusBorder: ['#0078d4', '#005fb8'],
  'editor-background': ['#1f1f1f', '#ffffff'],
  'editor-foreground': ['#cccccc', '#3b3b3b'],
  'sideBar-background': ['#181818', '#f8f8f8'],
  'editorWidget-background': ['#202020', '#f8f8f8'],
  'panel-border': ['#2b2b2b', '#e5e5e5'],
  'widget-border': ['#313131', '#e5e5e5'],
  'editorWidget-border': ['#454545', '#c8c8c8'],
  'textLink-foreground': ['#4daafc', '#005fb8'],
  'textLink-activeForeground': ['#4daafc', '#005fb8'],
  'textBlockQuote-background': ['#2b2b2b', '#f8f8f8'],
  'badge-background': ['#616161', '#cccccc'],
  'badge-foreground': ['#f8f8f8', '#3b3b3b'],
  'progressBar-background': ['#0078d4', '#005fb8'],
  'button-background': ['#0078d4', '#005fb8'],
  'button-foreground': ['#ffffff', '#ffffff'],
  'button-hoverBackground': ['#026ec1', '#0258a8'],
  'button-border': ['#ffffff12', '#0000001a'],
  'button-secondaryBackground': ['#313131', '#e5e5e5'],
  'button-secondaryForeground': ['#cccccc', '#3b3b3b'],
  'button-secondaryHoverBackground': ['#3c3c3c', '#cccccc'],
  'input-background': ['#313131', '#ffffff'],
  'input-foreground': ['#cccccc', '#3b3b3b'],
  'input-border': ['#3c3c3c', '#cecece'],
  'input-placeholderForeground': ['#989898', '#767676'],
  'dropdown-background': ['#313131', '#ffffff'],
  'dropdown-foreground': ['#cccccc', '#3b3b3b'],
  'dropdown-border': ['#3c3c3c', '#cecece'],
  'dropdown-listBackground': ['#1f1f1f', '#ffffff'],
  'settings-dropdownBackground': ['#313131', '#ffffff'],
  'settings-dropdownForeground': ['#cccccc', '#3b3b3b'],
  'settings-dropdownBorder': ['#3c3c3c', '#cecece'],
  'settings-dropdownListBorder': ['#454545', '#c8c8c8'],
  'settings-checkboxBackground': ['#313131', '#f8f8f8'],
  'settings-checkboxBorder': ['#3c3c3c', '#cecece'],
  'settings-checkboxForeground': ['#cccccc', '#3b3b3b'],
  'checkbox-background': ['#313131', '#f8f8f8'],
  'checkbox-border': ['#3c3c3c', '#cecece'],
  'checkbox-foreground': ['#cccccc', '#3b3b3b'],
  'list-hoverBackground': ['#2a2d2e', '#f2f2f2'],
  'list-activeSelectionBackground': ['#04395e', '#e8e8e8'],
  'list-activeSelectionForeground': ['#ffffff', '#000000'],
  'list-inactiveSelectionBackground': ['#37373d', '#e4e6f1'],
  'list-focusOutline': ['#0078d4', '#005fb8'],
  'list-focusBackground': ['#04395e', '#e8e8e8'],
  'inputValidation-errorBackground': ['#5a1d1d', '#f2dede'],
  'inputValidation-errorBorder': ['#be1100', '#be1100'],
  'editorWarning-foreground': ['#cca700', '#bf8803'],
  'charts-blue': ['#3794ff', '#1a85ff'],
  'charts-green': ['#89d185', '#388a34'],
  'panelTitle-activeForeground': ['#cccccc', '#3b3b3b'],
  'panelTitle-activeBorder': ['#0078d4', '#005fb8'],
  'panelTitle-inactiveForeground': ['#9d9d9d', '#3b3b3b'],
  'tab-activeForeground': ['#ffffff', '#3b3b3b'],
  'icon-foreground': ['#cccccc', '#3b3b3b'],
  'settings-headerBorder': ['#2b2b2b', '#e5e5e5'],
  'panel-background': ['#181818', '#f8f8f8'],
  'settings-textInputBackground': ['#313131', '#ffffff'],
  'settings-textInputForeground': ['#cccccc', '#3b3b3b'],
  'settings-textInputBorder': ['#3c3c3c', '#cecece'],
  'widget-shadow': ['#0000005c', '#00000029'],
  'toolbar-hoverOutline': ['#00000000', '#00000000'],
  'list-highlightForeground': ['#2aaaff', '#0066bf'],
  'list-focusHighlightForeground': ['#2aaaff', '#0066bf'],
  'list-hoverForeground': ['#ffffff', '#000000'],
  'scrollbarSlider-background': ['#79797966', '#64646466'],
  'scrollbarSlider-hoverBackground': ['#646464b3', '#646464b3'],
  'scrollbarSlider-activeBackground': ['#bfbfbf66', '#00000099'],
};

// Dark High Contrast: black, white text, cyan borders, orange focus; what it does not set stays as in Dark Modern.
const HIGH_CONTRAST: Record<string, string> = {
  foreground: '#ffffff',
  descriptionForeground: '#ffffff',
  errorForeground: '#f48771',
  focusBorder: '#f38518',
  contrastBorder: '#6fc3df',
  contrastActiveBorder: '#f38518',
  'editor-background': '#000000',
  'editor-foreground': '#ffffff',
  'sideBar-background': '#000000',
  'editorWidget-background': '#0c141f',
  'panel-background': '#000000',
  'panel-border': '#6fc3df',
  'widget-border': '#6fc3df',
  'editorWidget-border': '#6fc3df',
  'textLink-foreground': '#21a6ff',
  'textLink-activeForeground': '#21a6ff',
  'textBlockQuote-background': '#000000',
  'badge-background': '#000000',
  'badge-foreground': '#ffffff',
  'editorWarning-foreground': '#ffd370',
  'charts-green': '#89d185',
  'button-background': '#000000',
  'button-foreground': '#ffffff',
  'button-border': '#6fc3df',
  'button-secondaryBackground': '#000000',
  'button-secondaryForeground': '#ffffff',
  'input-background': '#000000',
  'input-foreground': '#ffffff',
  'input-border': '#6fc3df',
  'dropdown-background': '#000000',
  'dropdown-foreground': '#ffffff',
  'dropdown-border': '#6fc3df',
  'dropdown-listBackground': '#000000',
  'list-hoverBackground': '#000000',
  'list-activeSelectionBackground': '#000000',
  'list-inactiveSelectionBackground': '#000000',
  'inputValidation-errorBackground': '#000000',
  'inputValidation-errorBorder': '#f48771',
  'panelTitle-activeForeground': '#ffffff',
  'panelTitle-inactiveForeground': '#ffffff',
  'panelTitle-activeBorder': '#f38518',
  'tab-activeForeground': '#ffffff',
  'settings-headerBorder': '#6fc3df',
  'icon-foreground': '#ffffff',
  'settings-dropdownBackground': '#000000',
  'settings-dropdownForeground': '#ffffff',
  'settings-dropdownBorder': '#6fc3df',
  'settings-dropdownListBorder': '#6fc3df',
  'settings-textInputBackground': '#000000',
  'settings-textInputForeground': '#ffffff',
  'settings-textInputBorder': '#6fc3df',
  'settings-checkboxBackground': '#000000',
  'settings-checkboxBorder': '#6fc3df',
  'checkbox-background': '#000000',
  'checkbox-border': '#6fc3df',
};

function themeCss(theme: Theme): string {
  const value = (k: string, [dark, light]: [string, string]) => (theme === 'light' ? light : theme === 'dark' ? dark : (HIGH_CONTRAST[k] ?? dark));
  const names = [...new Set([...Object.keys(THEME_VARIABLES), ...Object.keys(HIGH_CONTRAST)])].filter((k) => theme === 'high-contrast' || k in THEME_VARIABLES);
  const vars = names.map((k) => `--vscode-${k}: ${value(k, THEME_VARIABLES[k] ?? [HIGH_CONTRAST[k], HIGH_CONTRAST[k]])};`).join('\n  ');
  return `html {\n  ${vars}\n}\nbody { background-color: var(--vscode-editor-background); color: var(--vscode-foreground); }`;
}

/** The host's page, with the theme variables VS Code would add (in a nonce'd style, as allowed). */
function pageHtml(webviewPage: typeof WebviewPageBuilder, view: 'panel' | 'side', theme: Theme, nonce: string): string {
  const html = webviewPage({ scriptUri: `${ORIGIN}/dist/webview.js`, cspSource: ORIGIN, nonce, view, title: 'ConvLens' });
  return html
    .replace('</head>', `<style nonce="${nonce}">\n${themeCss(theme)}\n</style>\n</head>`)
    .replace('<body ', `<body class="${theme === 'high-contrast' ? 'vscode-high-contrast' : `vscode-${theme}`}" `);
}

// Runs before any page script: the API VS Code gives a webview, recording posts and state (starting
// from a state VS Code kept, as after a reload); and a record of CSP violations.
function fakeVsCodeApi(initialState: unknown): void {
  const w = window as unknown as Record<string, unknown>;
  const posted: unknown[] = [];
  const violations: string[] = [];
  let state: unknown = initialState ?? undefined;
  w.__posted = posted;
  w.__state = () => state;
  w.__violations = violations;
  let acquired = false;
  w.acquireVsCodeApi = () => {
    if (acquired) throw new Error('acquireVsCodeApi may be called only once');
    acquired = true;
    return {
      postMessage: (m: unknown) => posted.push(JSON.parse(JSON.stringify(m))),
      getState: () => state,
      setState: (s: unknown) => {
        state = s;
      },
    };
  };
  document.addEventListener('securitypolicyviolation', (e) => violations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`));
}

export interface OpenOptions {
  view: 'panel' | 'side';
  theme?: Theme;
  width?: number;
  height?: number;
  /** The state VS Code kept for the view (`getState()`), as when a hidden webview is shown again. */
  state?: unknown;
}

export class WebviewPage {
  readonly problems: string[] = [];

  private constructor(readonly page: Page) {}

  static async open(browser: Browser, app: { script: string; page: typeof WebviewPageBuilder }, options: OpenOptions): Promise<WebviewPage> {
    const page = await browser.newPage({ viewport: { width: options.width ?? 1200, height: options.height ?? 900 } });
    page.setDefaultTimeout(10_000);
    const wp = new WebviewPage(page);
    page.on('console', (m) => {
      if (m.type() === 'error') wp.problems.push(`console error: ${m.text()}`);
    });
    page.on('pageerror', (e) => wp.problems.push(`uncaught: ${e.message}`));
    const nonce = crypto.randomBytes(16).toString('base64');
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url === `${ORIGIN}/index.html`) return route.fulfill({ contentType: 'text/html', body: pageHtml(app.page, options.view, options.theme ?? 'dark', nonce) });
      if (url === `${ORIGIN}/dist/webview.js`) return route.fulfill({ contentType: 'text/javascript', body: app.script });
      wp.problems.push(`request outside the webview: ${url}`);
      return route.abort();
    });
    await page.addInitScript(fakeVsCodeApi, options.state ?? null);
    await page.goto(`${ORIGIN}/index.html`);
    await wp.waitForPost('ready');
    return wp;
  }

  /** Delivers a host message the way VS Code does: a 'message' event on the window. */
  async send(message: HostToWebview): Promise<void> {
    await this.page.evaluate((m) => window.postMessage(m, '*'), message as unknown as Record<string, unknown>);
  }

  /** What the app last gave `setState()`: what VS Code keeps across a reload of the view. */
  async savedState(): Promise<unknown> {
    return this.page.evaluate(() => (window as unknown as { __state: () => unknown }).__state());
  }

  async posted(): Promise<Record<string, unknown>[]> {
    return this.page.evaluate(() => (window as unknown as { __posted: Record<string, unknown>[] }).__posted);
  }

  /** The latest posted message of a type, waiting for the `count`-th one to arrive. */
  /** The `count`-th message posted of `type`, a request counting as its kind ('explain', 'datasetRules', ...). */
  async waitForPost(type: string, count = 1): Promise<Posted> {
    await this.page.waitForFunction(
      ([t, n]) =>
        (window as unknown as { __posted: { type: string; kind?: string }[] }).__posted.filter((m) => (m.type === 'request' ? m.kind : m.type) === t).length >= (n as number),
      [type, count] as const,
    );
    const all = (await this.posted()).filter((m) => (m.type === 'request' ? m.kind : m.type) === type);
    return all[all.length - 1] as Posted;
  }

  async countPosts(type: string): Promise<number> {
    return (await this.posted()).filter((m) => (m.type === 'request' ? m.kind : m.type) === type).length;
  }

  /** CSP violations, console errors, uncaught exceptions and outside requests so far. */
  async allProblems(): Promise<string[]> {
    const violations = await this.page.evaluate(() => (window as unknown as { __violations: string[] }).__violations);
    return [...violations.map((v) => `CSP violation: ${v}`), ...this.problems];
  }

  /**
   * axe-core's WCAG 2.x A/AA rules on the page as it is now; the violations of at least
   * `minImpact`, each as 'rule: target (summary)'. axe's script is evaluated through the DevTools
   * protocol (a script tag would be, rightly, refused by the page's CSP).
   */
  async accessibilityViolations(minImpact: 'minor' | 'moderate' | 'serious' | 'critical' = 'serious'): Promise<string[]> {
    await this.page.evaluate(fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8'));
    const results = await this.page.evaluate(() =>
      (
        window as unknown as {
          axe: { run: (c: unknown, o: unknown) => Promise<{ violations: { id: string; impact: string; nodes: { target: string[]; failureSummary: string }[] }[] }> };
        }
      ).axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
    );
    const order = ['minor', 'moderate', 'serious', 'critical'];
    return results.violations
      .filter((v) => order.indexOf(v.impact) >= order.indexOf(minImpact))
      .flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(' ')} (${n.failureSummary.replace(/\s+/g, ' ').slice(0, 200)})`));
  }

  async close(): Promise<void> {
    await this.page.close();
  }
}
