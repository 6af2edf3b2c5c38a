// SVG elements built like dom.ts's h (attributes and children, never markup strings), and the
// categorical colours the dataset views give classes.

type Child = Node | string | number | null | undefined | false;

const NS = 'http://www.w3.org/2000/svg';

export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number | undefined> = {},
  ...children: (Child | Child[])[]
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attributes)) if (value !== undefined) element.setAttribute(key, String(value));
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
  return element;
}

// Tableau 10: distinguishable on light and dark backgrounds.
const CATEGORICAL = ['#4e79a7', '#f28e2b', '#59a14f', '#b07aa1', '#edc948', '#76b7b2', '#ff9da7', '#9c755f', '#e15759', '#bab0ac'];

/** The colour of class `index` (cycling after ten classes). */
export function classColor(index: number | undefined): string {
  return index === undefined ? '#8c8c8c' : CATEGORICAL[index % CATEGORICAL.length];
}

export const CORRECT_COLOR = '#59a14f';
export const WRONG_COLOR = '#e15759';
