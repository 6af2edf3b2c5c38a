// The export buttons under an explanation (Explain and Compare tabs): the host writes what the
// view shows, so the colormap and opacity in use go with the request.
import { h } from './dom';
import { post } from './host';
import type { Store } from './store';

/** `figure`: the view's own drawing as a PNG data URL, for maps the host cannot draw as shown (a signal's, a video's). */
export function exportButtons(explanationId: string, store: Store, figure?: () => string | undefined): HTMLElement[] {
  const exportAs = (format: 'png' | 'npy') => {
    const drawn = format === 'png' ? figure?.() : undefined;
    post({ type: 'export', explanationId, format, colormap: store.state.colormap, opacity: store.state.opacity, ...(drawn ? { figure: drawn } : {}) });
  };
  return [
    h('vscode-button', { secondary: true, class: 'export-png', onClick: () => exportAs('png') }, 'Export PNG'),
    h('vscode-button', { secondary: true, class: 'export-npy', onClick: () => exportAs('npy') }, 'Export .npy'),
  ];
}
