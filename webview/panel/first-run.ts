// The first minute: a model panel answers without a click. Once the host has posted the model, its
// settings (the default method, convlens.defaultMethod) and the image it chose (the model's sample
// or a workspace image), the Explain tab runs the default method on that image. Once per view: not
// again on later renders, tab switches or a reload of the webview (the saved state remembers).
//
// It yields to anyone else's explanation, in whatever order the messages come: it never starts
// once the user or the host started or showed one (the host says 'started' for its own requests:
// a lens, the explain command, a map point), and while it runs, another explanation or comparison
// started, or another result shown, abandons it (cancelled, its late result dropped). A model
// posted again while it runs (the worker reopened it: the image ids it used are gone) abandons it
// too, and it runs again on the image list that follows.
import { saveState, savedState } from '../host';
import type { State, Store } from '../store';

/** Whether the user (or the host, for them) already asked for or has an explanation, or the host started anything. */
function alreadyExplained(s: State): boolean {
  return s.explanations.size > 0 || [...s.requests.values()].some((r) => r.kind === 'explain' || r.kind === 'compare' || r.byHost);
}

/** The method to run first, once everything it needs has arrived; undefined while waiting. */
function firstMethod(s: State): string | undefined {
  const method = s.methods.find((m) => m.name === s.preferredMethod);
  if (!s.model || !method || !s.selectedImageId || !s.images.some((i) => i.id === s.selectedImageId)) return undefined;
  return method.name;
}

interface Running {
  requestId: string;
  model: State['model'];
  images: State['images'];
  explanations: number;
}

/**
 * Calls `run(method)` once, with the default method, when the view first has a model, its settings
 * and a chosen image and nothing was explained yet; `run` returns the request's id. The call is
 * deferred to a microtask so the request it sends is not nested inside the store's notification
 * of the other views.
 */
export function runFirstExplanation(store: Store, run: (method: string) => string | undefined): void {
  let done = savedState().firstRun === true;
  let running: Running | undefined;
  /** After a reopened model: the image list the run must not use (its ids are gone in the worker). */
  let staleImages: State['images'] | undefined;
  let scheduled = false;
  const finish = () => {
    done = true;
    saveState({ firstRun: true });
  };
  const ready = (s: State) => (staleImages === undefined || s.images !== staleImages ? firstMethod(s) : undefined);

  /** While the first run is in flight: gives it up when it is no longer what the user should see. */
  const watch = (s: State, r: Running) => {
    const others = [...s.requests.values()].some((q) => q.id !== r.requestId && (q.kind === 'explain' || q.kind === 'compare' || q.byHost));
    if (s.requests.has(r.requestId) && s.model !== r.model) {
      running = undefined;
      staleImages = r.images;
      if (!others && s.explanations.size === r.explanations) done = false;
      store.abandon(r.requestId);
      return;
    }
    if (!s.requests.has(r.requestId)) {
      running = undefined;
      return;
    }
    if (others || s.explanations.size > r.explanations) {
      running = undefined;
      store.abandon(r.requestId);
    }
  };

  store.subscribe((s) => {
    if (running) return watch(s, running);
    if (done || scheduled) return;
    if (alreadyExplained(s)) return finish();
    if (!ready(s)) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      const now = store.state;
      const method = ready(now);
      if (done || running || alreadyExplained(now)) return finish();
      if (!method) return;
      finish();
      staleImages = undefined;
      const model = now.model;
      const images = now.images;
      const explanations = now.explanations.size;
      const requestId = run(method);
      if (requestId && store.state.requests.has(requestId)) running = { requestId, model, images, explanations };
    });
  });
}
