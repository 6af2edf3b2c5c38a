// The first minute: a model panel answers without a click. Once the host has posted the model, its
// settings (the default method, convlens.defaultMethod) and the image it chose (the model's sample
// or a workspace image), the Explain tab runs the default method on that image. Once per view: not
// again on later renders, tab switches or a reload of the webview (the saved state remembers), and
// never after the user ran or compared anything (their click wins).
import { saveState, savedState } from '../host';
import type { State, Store } from '../store';

/** Whether the user (or the host, for them) already asked for or has an explanation. */
function alreadyExplained(s: State): boolean {
  return s.explanations.size > 0 || [...s.requests.values()].some((r) => r.kind === 'explain' || r.kind === 'compare');
}

/** The method to run first, once everything it needs has arrived; undefined while waiting. */
function firstMethod(s: State): string | undefined {
  const method = s.methods.find((m) => m.name === s.preferredMethod);
  if (!s.model || !method || !s.selectedImageId || !s.images.some((i) => i.id === s.selectedImageId)) return undefined;
  return method.name;
}

/**
 * Calls `run(method)` once, with the default method, when the view first has a model, its settings
 * and a chosen image and nothing was explained yet. The call is deferred to a microtask so the
 * request it sends is not nested inside the store's notification of the other views.
 */
export function runFirstExplanation(store: Store, run: (method: string) => void): void {
  let done = savedState().firstRun === true;
  const finish = () => {
    done = true;
    saveState({ firstRun: true });
  };
  store.subscribe((s) => {
    if (done) return;
    if (alreadyExplained(s)) return finish();
    if (!firstMethod(s)) return;
    done = true;
    queueMicrotask(() => {
      const now = store.state;
      const method = firstMethod(now);
      finish();
      if (method && !alreadyExplained(now)) run(method);
    });
  });
}
