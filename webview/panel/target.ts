// The class target of an explanation: the top-1 prediction, one class (picked from the
// predictions or typed as an index), or "why A and not B" (the difference of two logits).
import type { Prediction, TargetSpec } from '../../src/protocol';
import { h, Select, selectOption, setOptions } from '../dom';

const TYPED = 'typed';

const BASE_MODES = [
  { value: 'top', label: 'Top-1 prediction' },
  { value: 'class', label: 'A class' },
  { value: 'difference', label: 'Why A and not B' },
];

/** A class: one of the predictions, or any index typed in. */
class ClassPicker {
  readonly select: Select;
  readonly field: Select;
  readonly element: HTMLElement;

  constructor(
    id: string,
    label: string,
    private readonly onChange: () => void,
  ) {
    this.select = h('vscode-single-select', { id, label }) as Select;
    this.field = h('vscode-textfield', { id: `${id}-index`, type: 'number', min: 0, placeholder: 'class index', 'aria-label': `${label}: class index`, hidden: true }) as Select;
    this.select.addEventListener('change', () => this.sync());
    this.field.addEventListener('input', onChange);
    this.element = h('span', { class: 'class-picker' }, this.select, this.field);
    this.setPredictions([]);
  }

  /** Offers an image's predictions and picks `preferred` (a prediction's index); an index the user typed stays. */
  setPredictions(predictions: Prediction[], preferred?: number): void {
    const options = predictions.map((p) => ({ value: String(p.index), label: `${p.label} (#${p.index})` }));
    const typed = this.select.value === TYPED && this.field.value.trim() !== '';
    setOptions(this.select, [...options, { value: TYPED, label: 'Other index…' }], typed ? TYPED : String(preferred ?? options[0]?.value));
    this.sync();
  }

  set(index: number): void {
    const offered = [...this.select.querySelectorAll('vscode-option')].some((o) => o.getAttribute('value') === String(index));
    selectOption(this.select, offered ? String(index) : TYPED);
    if (!offered) this.field.value = String(index);
    this.sync();
  }

  /** The chosen index, or why there is none. */
  index(classCount: number | undefined): number | string {
    const raw = this.select.value === TYPED ? this.field.value.trim() : this.select.value;
    const index = Number(raw);
    if (raw === '' || !Number.isInteger(index) || index < 0) return 'Type a class index (a whole number from 0).';
    if (classCount !== undefined && index >= classCount) return `The model has ${classCount} classes: the index must be below ${classCount}.`;
    return index;
  }

  private sync(): void {
    this.field.hidden = this.select.value !== TYPED;
    this.onChange();
  }
}

export class TargetChooser {
  readonly element: HTMLElement;
  private readonly mode: Select;
  private readonly a: ClassPicker;
  private readonly b: ClassPicker;
  private readonly problem = h('div', { class: 'field-error', role: 'alert' });
  private readonly vs = h('span', { class: 'muted' }, 'and not');
  classCount?: number;
  /** The box or region chosen on the image, when there is one. */
  private task?: TargetSpec;

  /** `idPrefix` keeps element ids unique when a page holds more than one chooser. */
  constructor(idPrefix = '') {
    this.mode = h('vscode-single-select', { id: `${idPrefix}target-mode`, label: 'Target' }) as Select;
    setOptions(this.mode, BASE_MODES);
    this.a = new ClassPicker(`${idPrefix}target-class`, 'Class', () => this.validate());
    this.b = new ClassPicker(`${idPrefix}target-other`, 'Other class', () => this.validate());
    this.mode.addEventListener('change', () => this.sync());
    this.element = h('div', { class: 'target' }, this.mode, this.a.element, this.vs, this.b.element, this.problem);
    this.sync();
  }

  /** New predictions (another image): A defaults to the top class, B to the runner-up. */
  setPredictions(predictions: Prediction[]): void {
    this.a.setPredictions(predictions, predictions[0]?.index);
    this.b.setPredictions(predictions, predictions[1]?.index);
  }

  /** Targets one class (a click on a prediction). */
  chooseClass(index: number): void {
    selectOption(this.mode, 'class');
    this.a.set(index);
    this.sync();
  }

  /** Targets a box or a region chosen on the image (webview/panel/tasks.ts): offered as one more mode, named `label`. */
  chooseTask(target: TargetSpec, label: string): void {
    this.task = target;
    setOptions(this.mode, [...BASE_MODES, { value: 'task', label: `Chosen on the image: ${label}` }], 'task');
    selectOption(this.mode, 'task');
    this.sync();
  }

  /**
   * Shows the target of a result computed elsewhere (a lens, the host). A class that is the top
   * prediction keeps "Top-1 prediction" when that is chosen: the two ask the same.
   */
  follow(target: TargetSpec, topIndex: number | undefined): void {
    const current = this.value();
    if (typeof current !== 'string' && sameTarget(current, target, topIndex)) return;
    if (target.kind === 'box') return this.chooseTask(target, `box ${target.index}`);
    if (target.kind === 'region') return this.chooseTask(target, `class ${target.class} region`);
    selectOption(this.mode, target.kind);
    if (target.kind === 'class') this.a.set(target.index);
    if (target.kind === 'difference') {
      this.a.set(target.a);
      this.b.set(target.b);
    }
    this.sync();
  }

  /** The target, or a sentence saying what is missing. */
  value(): TargetSpec | string {
    const mode = this.modeValue();
    if (mode === 'top') return { kind: 'top' };
    if (mode === 'task') return this.task ?? { kind: 'top' };
    const a = this.a.index(this.classCount);
    if (typeof a === 'string') return a;
    if (mode === 'class') return { kind: 'class', index: a };
    const b = this.b.index(this.classCount);
    if (typeof b === 'string') return b;
    if (a === b) return 'Choose two different classes to ask why one and not the other.';
    return { kind: 'difference', a, b };
  }

  /** The mode; 'top' until the select has taken its options. */
  private modeValue(): 'top' | 'class' | 'difference' | 'task' {
    const mode = this.mode.value;
    return mode === 'class' || mode === 'difference' || (mode === 'task' && this.task) ? mode : 'top';
  }

  private sync(): void {
    const mode = this.modeValue();
    // A box or region chosen on the image is the whole target: no class picker beside it.
    this.a.element.hidden = mode === 'top' || mode === 'task';
    this.b.element.hidden = mode !== 'difference';
    this.vs.hidden = mode !== 'difference';
    this.validate();
  }

  private validate(): void {
    if (!this.b) return; // called while the pickers are being built
    const v = this.value();
    this.problem.textContent = typeof v === 'string' ? v : '';
    this.problem.hidden = typeof v !== 'string';
  }
}

function sameTarget(x: TargetSpec, y: TargetSpec, topIndex: number | undefined): boolean {
  const resolve = (t: TargetSpec): TargetSpec => (t.kind === 'top' && topIndex !== undefined ? { kind: 'class', index: topIndex } : t);
  return JSON.stringify(resolve(x)) === JSON.stringify(resolve(y));
}
