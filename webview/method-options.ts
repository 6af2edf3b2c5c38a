// Controls for an explanation method's options, built from its OptionSpecs (name, type, default,
// range, description; src/core/explain/types.ts): a number field for numbers, a select for
// choices, a text field for integer lists. The values go to the host as strings; the worker checks
// them against the same specs and answers a wrong one with a sentence.
import type { MethodView } from '../src/protocol';
import { h, Select, setOptions } from './dom';

type OptionSpec = MethodView['options'][number];

function control(method: string, spec: OptionSpec, idPrefix: string): Select {
  const id = `${idPrefix}option-${spec.name}`;
  const label = `${spec.name}: ${spec.description}`;
  if (spec.type === 'choice') {
    const select = h('vscode-single-select', { id, 'aria-label': label, 'data-option': spec.name }) as Select;
    setOptions(
      select,
      (spec.choices ?? []).map((c) => ({ value: c, label: c })),
      String(spec.default),
    );
    return select;
  }
  const numeric = spec.type === 'int' || spec.type === 'number' || spec.type === 'baseline';
  const value = Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default);
  return h('vscode-textfield', {
    id,
    'aria-label': label,
    'data-option': spec.name,
    'data-method': method,
    value,
    type: numeric ? 'number' : 'text',
    min: spec.min,
    max: spec.max,
    step: spec.type === 'int' ? 1 : numeric ? 'any' : undefined,
  }) as Select;
}

/** The option fields of one method, and the values the user changed from the defaults. */
export class MethodOptions {
  readonly element = h('div', { class: 'method-options', role: 'group', 'aria-label': 'Method options' });
  private controls: { spec: OptionSpec; input: Select }[] = [];
  private shownFor?: string;

  /** `idPrefix` keeps element ids unique when a page holds more than one set of option fields. */
  constructor(private readonly idPrefix = '') {}

  show(method: MethodView | undefined): void {
    if (method?.name === this.shownFor) return;
    this.shownFor = method?.name;
    this.controls = (method?.options ?? []).map((spec) => ({ spec, input: control(method!.name, spec, this.idPrefix) }));
    this.element.replaceChildren(
      ...this.controls.map(({ spec, input }) =>
        h(
          'div',
          { class: 'field', title: spec.description },
          h('span', { class: 'field-label' }, spec.name, spec.min !== undefined || spec.max !== undefined ? h('span', { class: 'muted' }, ` ${range(spec)}`) : null),
          input,
        ),
      ),
    );
    this.element.hidden = this.controls.length === 0;
  }

  /** Options whose value differs from the default (the host fills in the rest). */
  changed(): Record<string, string> {
    const changed: Record<string, string> = {};
    for (const { spec, input } of this.controls) {
      const value = input.value.trim();
      const defaultValue = Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default);
      if (value !== '' && value !== defaultValue) changed[spec.name] = value;
    }
    return changed;
  }
}

function range(spec: OptionSpec): string {
  if (spec.min !== undefined && spec.max !== undefined) return `(${spec.min}–${spec.max})`;
  return spec.min !== undefined ? `(≥ ${spec.min})` : `(≤ ${spec.max})`;
}
