// Entry of the webview app (bundled as dist/webview.js). The host sets body[data-view] to 'panel'
// (model panel / custom editor overview) or 'side' (the side-panel attribution viewer), then
// talks to it only through the messages typed in src/protocol.ts.
import './elements';
import css from './styles.css';
import { isColormap } from './colormap';
import { flipMenus } from './dom';
import { post, saveState, savedState } from './host';
import { mountPanel } from './panel/panel';
import { mountSide } from './side/side';
import { asHostMessage } from '../src/protocol';
import { Store } from './store';

// A constructed stylesheet needs no nonce and is how the components style themselves too.
const sheet = new CSSStyleSheet();
sheet.replaceSync(css);
document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];

flipMenus(document);

const saved = savedState();
const savedSettings = saved.settings;
const store = new Store({
  colormap: isColormap(saved.colormap) ? saved.colormap : 'viridis',
  opacity: typeof saved.opacity === 'number' ? saved.opacity : 0.5,
  settings:
    typeof savedSettings?.colormap === 'string' && typeof savedSettings.opacity === 'number' && typeof savedSettings.method === 'string'
      ? { colormap: savedSettings.colormap, opacity: savedSettings.opacity, method: savedSettings.method }
      : undefined,
});
// What VS Code keeps across a reload: the view's colormap and opacity (the user's, or a setting's),
// and the settings they came with, so the same settings sent again leave them (store.ts 'settings').
let kept = { colormap: store.state.colormap, opacity: store.state.opacity, settings: store.state.settings };
store.subscribe((s) => {
  if (s.colormap === kept.colormap && s.opacity === kept.opacity && s.settings === kept.settings) return;
  kept = { colormap: s.colormap, opacity: s.opacity, settings: s.settings };
  saveState(kept);
});

const view = document.body.dataset.view === 'side' ? 'side' : 'panel';
const root = document.createElement('main');
root.className = `app view-${view}`;
document.body.append(root);
if (view === 'side') mountSide(root, store);
else mountPanel(root, store);

window.addEventListener('message', (event: MessageEvent) => {
  const message = asHostMessage(event.data);
  if (!message) return;
  try {
    store.receive(message);
  } catch (err) {
    // A view that fails to draw a message still says what went wrong instead of going blank.
    store.update({ error: { message: `The view could not show a '${message.type}' message: ${(err as Error).message}` } });
  }
});

// Whatever else goes wrong in the view is said in it too.
window.addEventListener('error', (event) => store.update({ error: { message: `The view failed: ${event.message}` } }));
window.addEventListener('unhandledrejection', (event) => store.update({ error: { message: `The view failed: ${String((event.reason as Error)?.message ?? event.reason)}` } }));

post({ type: 'ready' });
