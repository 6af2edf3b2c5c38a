// The strip above the content: progress of the latest running request with its Cancel button,
// the last error (role=alert, dismissable) and short notices. Shared by the panel and the side view.
import { h, replaceChildren } from './dom';
import { post } from './host';
import { RunningRequest, State, Store } from './store';

export class StatusView {
  readonly element = h('div', { class: 'status' });
  private readonly progress = h('div', { class: 'progress', role: 'status', 'aria-live': 'polite', hidden: true });
  private readonly alert = h('div', { class: 'error', role: 'alert', hidden: true });
  private readonly notice = h('div', { class: 'notice', role: 'status', hidden: true });
  private shownRequest?: RunningRequest;
  private shownError?: State['error'];

  constructor(private readonly store: Store) {
    this.element.append(this.progress, this.alert, this.notice);
    store.subscribe((s) => this.render(s));
  }

  private render(s: State): void {
    this.renderProgress([...s.requests.values()].at(-1));
    this.renderError(s.error);
    this.notice.hidden = !s.notice;
    this.notice.textContent = s.notice ?? '';
  }

  private renderProgress(request: RunningRequest | undefined): void {
    if (request === this.shownRequest) return;
    const sameRequest = request?.id === this.shownRequest?.id;
    this.shownRequest = request;
    this.progress.hidden = !request;
    if (!request) return replaceChildren(this.progress);
    const bar = this.progress.querySelector('vscode-progress-bar');
    if (sameRequest && bar) {
      this.updateBar(bar, request);
      this.progress.querySelector('.progress-message')!.textContent = request.message;
      this.progress.querySelector<HTMLElement>('.cancel')!.toggleAttribute('disabled', !!request.cancelling);
      return;
    }
    const newBar = h('vscode-progress-bar', { 'aria-label': request.message });
    this.updateBar(newBar, request);
    const cancel = h('vscode-button', { class: 'cancel', secondary: true, disabled: request.cancelling, onClick: () => this.cancel(request.id) }, 'Cancel');
    replaceChildren(this.progress, newBar, h('div', { class: 'progress-row' }, h('span', { class: 'progress-message' }, request.message), cancel));
  }

  private updateBar(bar: HTMLElement, request: RunningRequest): void {
    const determinate = request.fraction !== undefined && Number.isFinite(request.fraction);
    const el = bar as HTMLElement & { value?: number; indeterminate: boolean };
    el.indeterminate = !determinate;
    if (determinate) el.value = Math.round(Math.min(1, Math.max(0, request.fraction!)) * 100);
  }

  private cancel(requestId: string): void {
    const running = this.store.state.requests.get(requestId);
    if (!running || running.cancelling) return;
    post({ type: 'cancel', requestId });
    this.store.update({ requests: new Map(this.store.state.requests).set(requestId, { ...running, cancelling: true, message: `${running.message} (cancelling…)` }) });
  }

  private renderError(error: State['error']): void {
    if (error === this.shownError) return;
    this.shownError = error;
    this.alert.hidden = !error;
    if (!error) return replaceChildren(this.alert);
    const dismiss = h('vscode-button', { class: 'dismiss', secondary: true, onClick: () => this.store.update({ error: undefined }) }, 'Dismiss');
    replaceChildren(this.alert, h('span', { class: 'error-icon', 'aria-hidden': 'true' }, '⚠'), h('span', { class: 'error-message' }, error.message), dismiss);
  }
}
