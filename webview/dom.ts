// Small DOM helpers: elements built with properties and listeners (never innerHTML, never inline
// handler attributes, so the strict CSP holds and host text can't inject markup).

type Child = Node | string | number | null | undefined | false;
type Listener = (event: Event) => void;
export type Props = Record<string, string | number | boolean | Listener | undefined | null>;

/**
 * An element with attributes (`class`, `aria-*`, `data-*`, ...), listeners (`onClick` →
 * addEventListener('click')) and children. `false`/`null`/`undefined` attributes are left out.
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') element.addEventListener(key.slice(2).toLowerCase(), value);
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

/** Replaces all children of `parent`. */
export function replaceChildren(parent: Element, ...children: (Child | Child[])[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

/** A vscode-single-select (or any control with a string value). */
export type Select = HTMLElement & { value: string };

/**
 * Chooses an option of a vscode-single-select in code. The option's `selected` attribute is set
 * as well as the value: right after its options are replaced, the select rebuilds its state from
 * the attributes (a value set in between would be lost).
 */
export function selectOption(select: Select, value: string): void {
  for (const option of select.querySelectorAll('vscode-option')) option.toggleAttribute('selected', option.getAttribute('value') === value);
  select.value = value;
}

/** An option list for a vscode-single-select; keeps the value when it is still offered. */
export function setOptions(select: Select, options: { value: string; label: string; description?: string }[], preferred?: string): void {
  const keep = preferred ?? select.value;
  const chosen = options.some((o) => o.value === keep) ? keep : options[0]?.value;
  select.replaceChildren(...options.map((o) => h('vscode-option', { value: o.value, description: o.description, selected: o.value === chosen }, o.label)));
  if (chosen !== undefined) select.value = chosen;
}

/**
 * Option lists open upwards when there is no room for them below the select (selects near the
 * bottom of the view) and more room above. Set just before the select handles the click or key.
 */
export function flipMenus(root: Document): void {
  const place = (event: Event) => {
    const select = (event.target as Element | null)?.closest?.('vscode-single-select') as (HTMLElement & { position: 'above' | 'below' }) | null;
    if (!select) return;
    const rect = select.getBoundingClientRect();
    // The list shows up to 10 options of about 22 px, with its border and description line.
    const needed = Math.min(select.querySelectorAll('vscode-option').length, 10) * 22 + 32;
    const below = window.innerHeight - rect.bottom;
    select.position = below < needed && rect.top > below ? 'above' : 'below';
  };
  root.addEventListener('pointerdown', place, true);
  root.addEventListener('keydown', place, true);
}

/**
 * Arrow-key focus movement among the items of a list or grid (roving tabindex: one item is in
 * the Tab order, arrows move between items). Up/Down jump a row in a wrapped grid.
 */
export function rovingFocus(container: HTMLElement, itemSelector: string, options: { vertical?: boolean; horizontal?: boolean } = {}): void {
  const { vertical = true, horizontal = true } = options;
  container.addEventListener('keydown', (event) => {
    const items = [...container.querySelectorAll<HTMLElement>(itemSelector)].filter((el) => !el.hidden);
    const current = items.indexOf(event.target as HTMLElement);
    if (current < 0) return;
    const next = nextIndex(items, current, event.key, vertical, horizontal);
    if (next === undefined || next === current) return;
    event.preventDefault();
    items[current].tabIndex = -1;
    items[next].tabIndex = 0;
    items[next].focus();
  });
}

function nextIndex(items: HTMLElement[], current: number, key: string, vertical: boolean, horizontal: boolean): number | undefined {
  const last = items.length - 1;
  switch (key) {
    case 'Home':
      return 0;
    case 'End':
      return last;
    case 'ArrowLeft':
      return horizontal ? Math.max(0, current - 1) : undefined;
    case 'ArrowRight':
      return horizontal ? Math.min(last, current + 1) : undefined;
    case 'ArrowUp':
      return vertical ? rowNeighbour(items, current, -1) : undefined;
    case 'ArrowDown':
      return vertical ? rowNeighbour(items, current, 1) : undefined;
    default:
      return undefined;
  }
}

/** The item one row up or down: same column in a wrapped grid, the neighbour in a list. */
function rowNeighbour(items: HTMLElement[], current: number, direction: 1 | -1): number {
  const firstRowTop = items[0].offsetTop;
  const perRow = items.filter((el) => el.offsetTop === firstRowTop).length;
  return Math.min(items.length - 1, Math.max(0, current + direction * Math.max(1, perRow)));
}

/** Makes the first of a set of items the Tab stop for rovingFocus (or the one marked current). */
export function initRoving(items: HTMLElement[], current?: HTMLElement): void {
  items.forEach((el) => (el.tabIndex = -1));
  const stop = current ?? items[0];
  if (stop) stop.tabIndex = 0;
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

export function formatShape(shape: readonly (number | string)[] | undefined): string {
  return shape ? `[${shape.join(', ')}]` : '?';
}

export function percent(p: number, digits = 1): string {
  return `${(p * 100).toFixed(digits)}%`;
}

const adopted = new Set<string>();
/** Adds a view's own style sheet to the page once (the CSP allows adopted sheets, not inline styles). */
export function adoptStyles(css: string): void {
  if (adopted.has(css)) return;
  adopted.add(css);
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(css);
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
}
