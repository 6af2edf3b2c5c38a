// One webview's conversation with the host about one model: the host side of the protocol in
// src/protocol.ts, shared by the model panel, the overview editor and the side view. Every
// incoming message is validated with parseWebviewMessage (invalid ones are dropped); requests run
// on the compute worker with progress in the view and in a cancellable VS Code notification, and
// end with one response, 'cancelled' or 'error' (one clear sentence).
import * as path from 'path';
import * as vscode from 'vscode';
import { CancelledError } from '../core/cancel';
import { ComputeClient } from '../compute/client';
import { workspaceFolderOf } from './workspace-files';
import { ExplanationView, HostToWebview, ImageView, MethodView, parseWebviewMessage, RequestKind, RequestParams, RequestResult, WebviewToHost } from '../protocol';
import { Analyses, isAnalysisRequest, isDatasetCommand } from './analyses';
import { imageFileSize, imageSize, tooLarge } from './image-size';
import { ModelStore } from './models';
import { cliCaveat, cliCommand, pythonSnippet, Reproducible } from './reproduce';
import type { Settings } from './settings';
import type { SourceLinks } from './source/source-links';
import { MessageTarget, TestHooks } from './test-hooks';
import { INPUT_FILTERS, InputKind, inputKindOf } from './input-files';

export interface ExplainerDeps {
  client: ComputeClient;
  models: ModelStore;
  sources: SourceLinks;
  hooks: TestHooks;
  settings(): Settings;
  methods(): Promise<MethodView[]>;
  /** The extension's workspace storage folder, for the dataset and feature-visualisation caches. */
  storageDir?: string;
}

interface LoadedImage {
  view: ImageView;
  uri?: vscode.Uri;
}

/** How a request shows its progress: a cancellable notification (asked for by the user) or the status bar. */
type Visibility = 'notification' | 'window';

export class ExplainerSession implements vscode.Disposable, MessageTarget {
  private modelPath?: string;
  private readonly images = new Map<string, LoadedImage>();
  private readonly predictions = new Map<string, HostToWebview & { type: 'prediction' }>();
  /** How each explanation of an image file was asked for, to copy it as code. */
  private readonly requested = new Map<string, Omit<Reproducible, 'preprocessing' | 'preprocessingSource'>>();
  private selected?: string;
  private readonly running = new Map<string, AbortController>();
  /**
   * Cancels that came before their request began running (a view gives up its first explanation
   * the moment another starts, while the host may still be preparing it): it starts cancelled.
   */
  private readonly cancelledEarly = new Set<string>();
  private readonly disposables: vscode.Disposable[] = [];
  private hostRequests = 0;
  /**
   * The first load (the model and its first image list) was posted. Requests the host starts
   * itself wait for it, so that a lens or a command on a panel that is still opening explains the
   * image it opens on instead of failing for want of one.
   */
  private loaded = false;
  private readonly whenLoaded: Promise<void>;
  private markLoaded!: () => void;
  /** Host-started requests waiting for the first load; announced ('started') just before the first image list. */
  private readonly waiting: { requestId: string; kind: RequestKind; message: string }[] = [];
  /** Host-started requests already announced to the view. */
  private readonly announced = new Set<string>();
  private lastMethod?: string;
  private disposed = false;
  /** Counts the times the images were dropped (another model, a reopen): a load started before the latest drop is stale. */
  private imagesGeneration = 0;
  /** The image files a reload has yet to load again: a reopen that follows it before it is done reloads them too. */
  private pendingReload?: { files: vscode.Uri[]; selected?: vscode.Uri; dropped: number };
  /** The Dataset and Inside tabs' requests. */
  private readonly analyses: Analyses;

  constructor(
    readonly id: string,
    private readonly webview: vscode.Webview,
    private readonly deps: ExplainerDeps,
    /** Called on each 'ready' (first load and reloads of the webview). */
    private readonly onReady: (session: ExplainerSession) => Promise<void>,
  ) {
    this.whenLoaded = new Promise((resolve) => (this.markLoaded = resolve));
    this.analyses = new Analyses({
      client: deps.client,
      storageDir: deps.storageDir,
      modelPath: () => this.modelPath,
      hasImage: (imageId) => this.images.has(imageId),
      imageName: (imageId) => this.images.get(imageId)?.view.name,
      post: (message) => this.post(message),
      track: (requestId, kind, title, visibility, work) => this.track(requestId, kind, title, visibility, work),
      openImage: async (uri) => {
        await this.addImages([uri], uri);
      },
      explainImage: async (uri, settings) => {
        const [image] = await this.addImages([uri], uri);
        if (image) await this.explain(this.hostRequestId('explain'), { imageId: image.id, ...settings }, 'window');
      },
      methodTitle: (method) => this.methodTitle(method),
    });
    this.disposables.push(
      webview.onDidReceiveMessage((m) => this.receive(m)),
      deps.hooks.register(this),
      deps.models.onDidReopen((reopened) => {
        if (reopened === this.modelPath) void this.reload();
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (['colormap', 'overlayOpacity', 'defaultMethod'].some((key) => e.affectsConfiguration(`convlens.${key}`))) this.postSettings();
      }),
    );
  }

  get currentModel(): string | undefined {
    return this.modelPath;
  }

  get selectedImage(): LoadedImage | undefined {
    return this.selected ? this.images.get(this.selected) : undefined;
  }

  /** The method the user last ran in this view. */
  get preferredMethod(): string {
    return this.lastMethod ?? this.deps.settings().defaultMethod;
  }

  async receive(raw: unknown): Promise<void> {
    const message = parseWebviewMessage(raw);
    if (!message) return;
    this.deps.hooks.received(this.id, message);
    try {
      await this.handle(message);
    } catch (err) {
      this.post({ type: 'error', message: (err as Error).message });
    }
  }

  private async handle(message: WebviewToHost): Promise<void> {
    if (isDatasetCommand(message)) return this.analyses.command(message);
    switch (message.type) {
      case 'request':
        if (isAnalysisRequest(message)) return this.analyses.request(message);
        switch (message.kind) {
          case 'explain':
            return this.explain(message.requestId, message.params, 'notification');
          case 'compare':
            return this.compare(message.requestId, message.params);
          case 'activations':
            return this.activations(message.requestId, message.params, 'notification');
        }
        return;
      case 'ready':
        try {
          return await this.onReady(this);
        } finally {
          // A view that opened on no image (no model, none in the workspace) is loaded too.
          this.finishLoading();
        }
      case 'pickImages':
        return this.pickImages();
      case 'dropImages':
        return this.addDropped(message.files);
      case 'selectImage':
        if (!this.images.has(message.imageId)) return;
        this.selected = message.imageId;
        return this.predict(message.imageId);
      case 'cancel': {
        const running = this.running.get(message.requestId);
        if (running) return running.abort();
        this.cancelledEarly.add(message.requestId);
        // Bounded: a cancel that came just after its request ended is never claimed.
        if (this.cancelledEarly.size > 64) this.cancelledEarly.delete(this.cancelledEarly.values().next().value!);
        return;
      }
      case 'export':
        return this.exportExplanation(message);
      case 'openSource':
        if (this.modelPath) await this.deps.sources.openLayer(this.modelPath, message.layer);
        return;
      case 'copyReproduction':
        return this.copyReproduction(message.explanationId, message.form);
    }
  }

  /** Sends a message to the webview; work that ends after the view closed has no one to tell. */
  post(message: HostToWebview): void {
    if (this.disposed) return;
    this.deps.hooks.record(this.id, message);
    void this.webview.postMessage(message);
  }

  postSettings(): void {
    const s = this.deps.settings();
    this.post({ type: 'settings', colormap: s.colormap, opacity: s.overlayOpacity, method: s.defaultMethod });
  }

  /**
   * Shows `modelPath` (or nothing): the previous model is released, its images dropped (they were
   * preprocessed for it). Resolves to whether the model opened; failures are shown in the view.
   */
  async setModel(modelPath: string | undefined): Promise<boolean> {
    if (modelPath !== this.modelPath) {
      const previous = this.modelPath;
      this.modelPath = modelPath;
      this.clearImages();
      this.pendingReload = undefined;
      this.analyses.reset();
      if (previous) await this.deps.models.release(previous);
      if (!modelPath) return false;
      try {
        await this.deps.models.acquire(modelPath);
      } catch (err) {
        if (this.modelPath === modelPath) {
          this.modelPath = undefined;
          this.post({ type: 'error', message: modelProblem(path.basename(modelPath), err) });
        }
        return false;
      }
      if (this.modelPath !== modelPath) return false;
    }
    if (!this.modelPath) return false;
    await this.postModel();
    return true;
  }

  private async postModel(): Promise<void> {
    const modelPath = this.modelPath;
    const view = modelPath ? this.deps.models.loaded(modelPath) : undefined;
    if (!modelPath || !view) return;
    const [annotated, methods] = await Promise.all([this.deps.sources.annotate(view), this.deps.methods()]);
    if (this.modelPath !== modelPath) return;
    this.post({ type: 'model', model: annotated, methods });
    // After the model: the preferences (default method) apply to the methods just offered.
    this.postSettings();
    // The side view has no Dataset tab: only the panel and the overview editor are offered folders.
    if (this.id !== 'side') {
      void this.analyses.postFolders();
      void this.analyses.postGalleryFolders();
    }
  }

  /**
   * After the worker reopened the model (its images are gone there): posts the model again and
   * reloads the image files, keeping the selection. Dropped images cannot come back.
   */
  private async reload(): Promise<void> {
    const current = [...this.images.values()];
    const pending = this.pendingReload;
    const files = [...(pending?.files ?? []), ...current.flatMap((i) => (i.uri ? [i.uri] : []))].filter(
      (uri, index, all) => all.findIndex((other) => other.toString() === uri.toString()) === index,
    );
    const reload = {
      files,
      selected: this.selectedImage?.uri ?? pending?.selected,
      dropped: (pending?.dropped ?? 0) + current.filter((i) => !i.uri).length,
    };
    this.pendingReload = reload;
    this.clearImages();
    const generation = this.imagesGeneration;
    this.analyses.reset();
    await this.postModel();
    if (files.length > 0 && generation === this.imagesGeneration) await this.addImages(files, reload.selected ?? files[0]);
    // Reopened again meanwhile: that reload loads these files.
    if (generation !== this.imagesGeneration) return;
    this.pendingReload = undefined;
    if (reload.dropped > 0) this.post({ type: 'error', message: `The model was reopened; drop the ${reload.dropped} dropped image(s) again to use them.` });
  }

  private clearImages(): void {
    this.imagesGeneration++;
    this.images.clear();
    this.predictions.clear();
    this.requested.clear();
    this.selected = undefined;
  }

  /**
   * Loads image files for the current model and posts the image list, selecting the image of
   * `select` (default: the first of `uris`). Resolves to the images loaded (or known) from `uris`.
   */
  async addImages(uris: vscode.Uri[], select: vscode.Uri | undefined = uris[0]): Promise<ImageView[]> {
    const modelPath = this.modelPath;
    const generation = this.imagesGeneration;
    if (!modelPath) return [];
    const loaded: ImageView[] = [];
    const problems: string[] = [];
    for (const uri of uris) {
      const known = this.imageOf(uri);
      if (known) {
        loaded.push(known.view);
        continue;
      }
      const name = path.basename(uri.fsPath);
      try {
        const large = tooLarge(name, imageFileSize(uri.fsPath), this.deps.settings().maxImagePixels);
        if (large) throw new Error(large);
        const view = { ...(await this.deps.client.call('loadImage', { modelPath, imagePath: uri.fsPath, name })), folder: workspaceFolderOf(uri.fsPath) };
        if (this.modelPath !== modelPath || this.imagesGeneration !== generation) return [];
        this.images.set(view.id, { view, uri });
        loaded.push(view);
      } catch (err) {
        problems.push(imageProblem(name, err));
      }
    }
    this.finishAdding(problems, select ? this.imageOf(select)?.view.id : undefined);
    return loaded;
  }

  private imageOf(uri: vscode.Uri): LoadedImage | undefined {
    return [...this.images.values()].find((i) => i.uri?.toString() === uri.toString());
  }

  private async addDropped(files: { name: string; base64: string }[]): Promise<void> {
    const modelPath = this.modelPath;
    const generation = this.imagesGeneration;
    if (!modelPath) return;
    const loaded: ImageView[] = [];
    const problems: string[] = [];
    for (const file of files) {
      const name = path.basename(file.name);
      try {
        const head = Buffer.from(file.base64.slice(0, 4096), 'base64');
        const large = tooLarge(name, imageSize(head), this.deps.settings().maxImagePixels);
        if (large) throw new Error(large);
        const view = await this.deps.client.call('loadImage', { modelPath, base64: file.base64, name });
        if (this.modelPath !== modelPath || this.imagesGeneration !== generation) return;
        this.images.set(view.id, { view });
        loaded.push(view);
      } catch (err) {
        problems.push(imageProblem(name, err));
      }
    }
    this.finishAdding(problems, loaded[0]?.id);
  }

  /**
   * Posts the image list (and any problems), selecting `select` when given, then its prediction.
   * The first list ends the first load: the host-started requests that waited for it are announced
   * before it, so the view knows of them before it has an image to run its own first explanation on.
   */
  private finishAdding(problems: string[], select: string | undefined): void {
    if (select) this.selected = select;
    if (!this.selected || !this.images.has(this.selected)) this.selected = this.images.keys().next().value;
    this.announceWaiting();
    this.post({ type: 'images', images: [...this.images.values()].map((i) => i.view), selected: this.selected });
    this.finishLoading();
    if (problems.length > 0) this.post({ type: 'error', message: problems.join(' ') });
    if (this.selected) void this.predict(this.selected);
  }

  /** What the current model takes: pictures, signals [N, C, L] or videos [N, C, T, H, W] (by its input's rank). */
  get inputKind(): InputKind {
    const shape = this.modelPath ? this.deps.models.loaded(this.modelPath)?.inputs[0]?.shape : undefined;
    return shape ? inputKindOf(shape) : 'image';
  }

  private async pickImages(): Promise<void> {
    const kind = this.inputKind;
    const uris = await vscode.window.showOpenDialog({
      title: kind === 'image' ? 'Choose images to explain' : kind === 'signal' ? 'Choose signals to explain (.npy or WAV)' : 'Choose video clips to explain (.npy)',
      canSelectMany: true,
      filters: INPUT_FILTERS[kind],
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
    });
    if (uris?.length) await this.addImages(uris);
  }

  /** Posts the prediction for an image (once per image and model). */
  async predict(imageId: string): Promise<void> {
    const modelPath = this.modelPath;
    const generation = this.imagesGeneration;
    if (!modelPath) return;
    const known = this.predictions.get(imageId);
    if (known) return this.post(known);
    try {
      const top = await this.deps.client.call('predict', { modelPath, imageId, topK: this.deps.settings().topK });
      const message = { type: 'prediction' as const, imageId, top };
      if (this.modelPath !== modelPath || this.imagesGeneration !== generation) return;
      this.predictions.set(imageId, message);
      this.post(message);
    } catch (err) {
      this.post({ type: 'error', message: `Could not predict ${this.images.get(imageId)?.view.name ?? 'the image'}: ${(err as Error).message}` });
    }
  }

  /**
   * An explanation the host starts itself (side view, layer lenses), of the selected image. On a
   * view still opening it waits for the first load and explains the image the view opens on.
   */
  async explainFromHost(method: string, layer: string, visibility: Visibility): Promise<void> {
    const requestId = this.hostRequestId('explain');
    await this.afterFirstLoad(requestId, 'explain', `${await this.methodTitle(method)}…`);
    const imageId = this.selected;
    if (!imageId) return this.noImage(requestId);
    return this.explain(requestId, { imageId, method, layer, target: { kind: 'top' } }, visibility);
  }

  async activationsFromHost(layer: string): Promise<void> {
    const requestId = this.hostRequestId('activations');
    await this.afterFirstLoad(requestId, 'activations', `Activations of ${layer}…`);
    const imageId = this.selected;
    if (!imageId) return this.noImage(requestId);
    return this.activations(requestId, { imageId, layer, target: { kind: 'top' } }, 'notification');
  }

  private noImage(requestId: string): void {
    // A model that failed to open has said so already.
    if (!this.modelPath) return this.post({ type: 'cancelled', requestId });
    this.post({ type: 'error', requestId, message: 'Choose an image first: pick or drop one in this view.' });
  }

  private hostRequestId(kind: string): string {
    return `host-${kind}-${++this.hostRequests}`;
  }

  /** Resolves once the first load was posted; a request started before it is announced with it. */
  private async afterFirstLoad(requestId: string, kind: RequestKind, message: string): Promise<void> {
    if (this.loaded) return;
    this.waiting.push({ requestId, kind, message });
    await this.whenLoaded;
  }

  private announceWaiting(): void {
    for (const { requestId, kind, message } of this.waiting.splice(0)) this.announce(requestId, kind, message);
  }

  /** Tells the view of a request the host started, once, before its progress and response. */
  private announce(requestId: string, kind: RequestKind, message: string): void {
    if (!requestId.startsWith('host-') || this.announced.has(requestId)) return;
    this.announced.add(requestId);
    this.post({ type: 'started', requestId, kind, message });
  }

  private finishLoading(): void {
    // Without a model (it failed to open, and said so) the waiting requests end unannounced.
    if (this.modelPath) this.announceWaiting();
    else this.waiting.length = 0;
    if (this.loaded) return;
    this.loaded = true;
    this.markLoaded();
  }

  private async explain(requestId: string, params: RequestParams<'explain'>, visibility: Visibility): Promise<void> {
    const modelPath = this.modelPath;
    if (!modelPath || !this.images.has(params.imageId)) {
      return this.post({ type: 'error', requestId, message: 'That image is no longer loaded; choose it again.' });
    }
    this.lastMethod = params.method;
    const title = `${await this.methodTitle(params.method)} on ${this.images.get(params.imageId)?.view.name}`;
    await this.track(requestId, 'explain', title, visibility, async (signal, onProgress) => {
      void this.predict(params.imageId);
      const explanation = await this.deps.client.call('explain', { modelPath, ...params }, { signal, onProgress });
      this.remember(explanation, modelPath, params);
      return explanation;
    });
  }

  /**
   * Keeps what "Copy command" and "Copy Python" need for an explanation of an image file: the layer
   * the worker resolved ('auto' → a tensor), so the copy computes at the same one, and the file of
   * a similarity's reference image.
   */
  private remember(explanation: ExplanationView, modelPath: string, params: RequestParams<'explain'>): void {
    const imageUri = this.images.get(params.imageId)?.uri;
    if (!imageUri) return;
    const reference = params.target.kind === 'similarity' ? this.images.get(params.target.imageId)?.uri?.fsPath : undefined;
    this.requested.set(explanation.id, {
      modelPath,
      imagePath: imageUri.fsPath,
      method: params.method,
      layer: explanation.layer ?? params.layer,
      target: params.target,
      ...(reference ? { files: { reference } } : {}),
      options: params.options,
      out: `${path.parse(imageUri.fsPath).name}.${params.method}.png`,
    });
  }

  /** Puts an explanation on the clipboard as a command line or a Python snippet, and says what was copied. */
  private async copyReproduction(explanationId: string, form: 'command' | 'python'): Promise<void> {
    const requested = this.requested.get(explanationId);
    const spec = this.modelPath ? this.deps.models.loaded(this.modelPath)?.preprocessing : undefined;
    if (!requested || !spec?.spec) {
      return this.post({ type: 'error', message: 'Only an explanation of an image file, with the model still open, can be copied as code; dropped images have no file to name.' });
    }
    const reproducible: Reproducible = { ...requested, preprocessing: spec.spec, preprocessingSource: spec.source as Reproducible['preprocessingSource'] };
    const text = form === 'command' ? cliCommand(reproducible) : pythonSnippet(reproducible);
    if (!text)
      return this.post({ type: 'error', message: `Neither pytorch-grad-cam nor Captum has ${await this.methodTitle(requested.method)}; copy the convlens command instead.` });
    await vscode.env.clipboard.writeText(text);
    const caveat = form === 'command' ? cliCaveat(reproducible) : undefined;
    void vscode.window.showInformationMessage(`ConvLens: copied the ${form === 'command' ? 'convlens command' : 'Python snippet'}.${caveat ? ` ${caveat}` : ''}`);
  }

  private async compare(requestId: string, params: RequestParams<'compare'>): Promise<void> {
    const modelPath = this.modelPath;
    if (!modelPath || !this.images.has(params.imageId)) {
      return this.post({ type: 'error', requestId, message: 'That image is no longer loaded; choose it again.' });
    }
    const titles = await Promise.all(params.methods.map((m) => this.methodTitle(m)));
    await this.track(requestId, 'compare', `Comparing ${titles.join(', ')}`, 'notification', async (signal, onProgress) => {
      const explanations = [];
      for (const [i, method] of params.methods.entries()) {
        const step = (fraction: number, message: string) => onProgress((i + fraction) / params.methods.length, `${titles[i]}: ${message}`);
        // The Compare tab ranks the maps by their deletion and insertion scores.
        const explanation = await this.deps.client.call(
          'explain',
          {
            modelPath,
            imageId: params.imageId,
            method,
            layer: params.layer,
            target: params.target,
            faithfulness: true,
          },
          { signal, onProgress: step },
        );
        this.remember(explanation, modelPath, { imageId: params.imageId, method, layer: params.layer, target: params.target });
        this.post({ type: 'compared', requestId, explanation });
        explanations.push(explanation);
      }
      return explanations;
    });
  }

  private async activations(requestId: string, params: RequestParams<'activations'>, visibility: Visibility): Promise<void> {
    const modelPath = this.modelPath;
    if (!modelPath || !this.images.has(params.imageId)) {
      return this.post({ type: 'error', requestId, message: 'That image is no longer loaded; choose it again.' });
    }
    await this.track(requestId, 'activations', `Activations of ${params.layer}`, visibility, async (signal, onProgress) => {
      const activations = await this.deps.client.call('activations', { modelPath, ...params }, { signal, onProgress });
      return { ...activations, requestId };
    });
  }

  /**
   * Runs a request with its progress posted to the view and shown by VS Code (cancelling either
   * aborts the job), then posts its response, 'cancelled' or 'error'.
   */
  private async track<K extends RequestKind>(
    requestId: string,
    kind: K,
    title: string,
    visibility: Visibility,
    work: (signal: AbortSignal, onProgress: (fraction: number, message: string) => void) => Promise<RequestResult<K>>,
  ): Promise<void> {
    const controller = new AbortController();
    this.running.set(requestId, controller);
    if (this.cancelledEarly.delete(requestId)) controller.abort();
    this.announce(requestId, kind, `${title}…`);
    const location = visibility === 'notification' ? vscode.ProgressLocation.Notification : vscode.ProgressLocation.Window;
    try {
      const result = await vscode.window.withProgress({ location, title: `ConvLens: ${title}`, cancellable: true }, async (progress, token) => {
        token.onCancellationRequested(() => controller.abort());
        let reported = 0;
        return work(controller.signal, (fraction, message) => {
          this.post({ type: 'progress', requestId, fraction, message });
          const percent = Math.max(0, Math.min(100, fraction * 100));
          progress.report({ message, increment: Math.max(0, percent - reported) });
          reported = Math.max(reported, percent);
        });
      });
      this.post({ type: 'response', requestId, kind, result } as HostToWebview);
    } catch (err) {
      if (err instanceof CancelledError || controller.signal.aborted) this.post({ type: 'cancelled', requestId });
      else this.post({ type: 'error', requestId, message: (err as Error).message });
    } finally {
      this.running.delete(requestId);
      this.announced.delete(requestId);
    }
  }

  /** Writes what the view shows: a PNG in its colormap and opacity, at the image's original resolution. */
  private async exportExplanation({ explanationId, format, colormap, opacity, figure }: Extract<WebviewToHost, { type: 'export' }>): Promise<void> {
    try {
      const { bytes, suggestedName } = await this.deps.client.call('exportExplanation', { explanationId, format, colormap, opacity, figure });
      const folder = this.modelPath ? path.dirname(this.modelPath) : vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
      const target = await vscode.window.showSaveDialog({
        title: `Export the explanation as ${format === 'png' ? 'a PNG overlay' : 'a .npy array'}`,
        defaultUri: folder ? vscode.Uri.file(path.join(folder, path.basename(suggestedName))) : undefined,
        filters: format === 'png' ? { 'PNG image': ['png'] } : { 'NumPy array': ['npy'] },
      });
      if (!target) return;
      await vscode.workspace.fs.writeFile(target, bytes);
      const open = await vscode.window.showInformationMessage(`ConvLens: saved ${path.basename(target.fsPath)}.`, 'Open');
      if (open) await vscode.commands.executeCommand('vscode.open', target);
    } catch (err) {
      this.post({ type: 'error', message: `Could not export the explanation: ${(err as Error).message}` });
    }
  }

  private async methodTitle(name: string): Promise<string> {
    const methods = await this.deps.methods().catch(() => []);
    return methods.find((m) => m.name === name)?.title ?? name;
  }

  dispose(): void {
    this.disposed = true;
    // Host-started requests waiting for a load that will not come end here.
    this.finishLoading();
    for (const controller of this.running.values()) controller.abort();
    this.running.clear();
    for (const d of this.disposables) d.dispose();
    if (this.modelPath) void this.deps.models.release(this.modelPath);
    this.modelPath = undefined;
  }
}

/** Why a model did not open, naming the file once (the worker's reason may start with its name). */
function modelProblem(name: string, err: unknown): string {
  const reason = (err as Error).message;
  return `Could not open ${name}: ${reason.startsWith(`${name}: `) ? reason.slice(name.length + 2) : reason}`;
}

function imageProblem(name: string, err: unknown): string {
  const message = (err as Error).message;
  return message.includes(name) ? message : `${name}: ${message}`;
}
