// The export buttons under an explanation (Explain and Compare tabs).
import { h } from './dom';
import { post } from './host';

export function exportButtons(explanationId: string): HTMLElement[] {
  return [
    h('vscode-button', { secondary: true, class: 'export-png', onClick: () => post({ type: 'export', explanationId, format: 'png' }) }, 'Export PNG'),
    h('vscode-button', { secondary: true, class: 'export-npy', onClick: () => post({ type: 'export', explanationId, format: 'npy' }) }, 'Export .npy'),
  ];
}
