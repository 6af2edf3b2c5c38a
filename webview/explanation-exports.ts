// The export buttons under an explanation (Explain and Compare tabs): the host writes what the
// view shows, so the colormap and opacity in use go with the request; "Copy command" and "Copy
// Python" ask the host to put the `convlens explain` command or the pytorch-grad-cam / Captum
// snippet that reproduces the result on the clipboard (src/extension/reproduce.ts). Each button's
// visible text is its accessible name; the title says more.
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
    h(
      'vscode-button',
      {
        secondary: true,
        class: 'copy-command',
        title: 'Copy the convlens command that reproduces this result',
        onClick: () => post({ type: 'copyReproduction', explanationId, form: 'command' }),
      },
      'Copy command',
    ),
    h(
      'vscode-button',
      {
        secondary: true,
        class: 'copy-python',
        title: 'Copy a Python snippet (pytorch-grad-cam or Captum) with the same settings',
        onClick: () => post({ type: 'copyReproduction', explanationId, form: 'python' }),
      },
      'Copy Python',
    ),
  ];
}
