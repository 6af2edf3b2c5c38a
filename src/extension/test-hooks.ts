// What the end-to-end tests in a real extension host can see of the extension: the messages its
// views posted and a way to hand a view a message as its webview would. Returned from activate()
// only when CONVLENS_TEST_HOOKS=1 is in the extension host's environment.
import type { WorkerStatus } from '../compute/jobs';
import type { HostToWebview, WebviewToHost } from '../protocol';

export interface PostedMessage {
  /** 'panel:<model path>', 'editor:<model path>' or 'side'. */
  view: string;
  message: HostToWebview;
}

export interface ConvLensTestApi {
  /** Every message posted to a webview since activation, oldest first. */
  posted(): PostedMessage[];
  /** Every valid message a webview (or sendFromWebview) sent to the host since activation, oldest first. */
  received(): ReceivedMessage[];
  /** The ids of the views open now. */
  views(): string[];
  /** Handles `message` as if the webview of `view` had posted it (validated the same way). */
  sendFromWebview(view: string, message: unknown): Promise<void>;
  /** The compute worker's process id and what it holds; undefined while no worker runs. */
  worker(): Promise<(WorkerStatus & { pid?: number }) | undefined>;
  /** The current model and where it is named: the status bar item (hidden: undefined) and the side view's header. */
  shown(): ShownModel;
}

export interface ReceivedMessage {
  view: string;
  message: WebviewToHost;
}

export interface ShownModel {
  activeModel?: string;
  statusBar?: { text: string; accessibleName?: string };
  sideViewDescription?: string;
}

export interface MessageTarget {
  readonly id: string;
  receive(message: unknown): Promise<void>;
}

export class TestHooks {
  private readonly log: PostedMessage[] = [];
  private readonly receivedLog: ReceivedMessage[] = [];
  private readonly targets = new Set<MessageTarget>();

  constructor(readonly enabled: boolean) {}

  record(view: string, message: HostToWebview): void {
    if (this.enabled) this.log.push({ view, message });
  }

  received(view: string, message: WebviewToHost): void {
    if (this.enabled) this.receivedLog.push({ view, message });
  }

  register(target: MessageTarget): { dispose(): void } {
    this.targets.add(target);
    return { dispose: () => this.targets.delete(target) };
  }

  api(worker: ConvLensTestApi['worker'], shown: ConvLensTestApi['shown']): ConvLensTestApi {
    return {
      worker,
      shown,
      posted: () => [...this.log],
      received: () => [...this.receivedLog],
      views: () => [...this.targets].map((t) => t.id),
      sendFromWebview: async (view, message) => {
        const target = [...this.targets].find((t) => t.id === view);
        if (!target) throw new Error(`no open view '${view}'; open: ${[...this.targets].map((t) => t.id).join(', ') || 'none'}`);
        await target.receive(message);
      },
    };
  }
}
