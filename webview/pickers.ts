// The pickers several tabs share: layers (for CAM methods, for dataset pooling) and methods, and
// how a layer is named for users.
import type { LayerView, MethodView } from '../src/protocol';
import { formatShape, Select, selectOption, setOptions } from './dom';
import type { State } from './store';

/** Layers a CAM can use: those with a 4-D (N, C, H, W) output. */
export function camLayers(layers: LayerView[]): LayerView[] {
  return layers.filter((l) => l.shape?.length === 4);
}

/**
 * The layer a tab opens on: the model's CAM layer, else the last one with more than one position
 * (a 1×1 pooled layer has nothing to look at: every channel is one flat square).
 */
export function defaultSpatialLayer(model: State['model']): LayerView | undefined {
  const layers = camLayers(model?.layers ?? []);
  return (
    layers.find((l) => l.name === model?.defaultCamLayer || l.tensor === model?.defaultCamLayer) ??
    layers.filter((l) => Number(l.shape![2]) * Number(l.shape![3]) > 1).at(-1) ??
    layers.at(-1)
  );
}

export function layerOptions(s: State): { value: string; label: string; description?: string }[] {
  const chosen = s.model?.layers.find((l) => l.name === s.model?.defaultCamLayer);
  const autoName = chosen?.scope ?? s.model?.defaultCamLayer;
  const auto = { value: 'auto', label: autoName ? `auto (${autoName})` : 'auto' };
  return [auto, ...camLayers(s.model?.layers ?? []).map((l) => ({ value: l.name, label: l.scope ?? l.name, description: `${l.opType} ${formatShape(l.shape)}` }))];
}

/** A layer as users know it (its module scope) from a tensor or node name. */
export function layerLabel(model: State['model'], layer: string): string {
  const found = model?.layers.find((l) => l.tensor === layer || l.name === layer);
  return found?.scope ?? found?.name ?? layer;
}

export function methodOptions(methods: MethodView[]): { value: string; label: string; description: string }[] {
  return methods.map((m) => ({ value: m.name, label: m.title, description: m.kind }));
}

/**
 * A method select that shows the settings' default method until a method is chosen in it (the
 * user's pick: 'change' fires only on theirs; or `choose`, for a run or a result that set it).
 * After that the choice stands: settings that arrive late, the same model posted again, or a
 * default changed in VS Code leave it as long as it is offered.
 */
export class MethodChoice {
  chosen = false;

  constructor(private readonly select: Select) {
    select.addEventListener('change', () => (this.chosen = true));
  }

  /** Offers `methods`, showing `preferred` (when offered) unless a method was chosen. */
  offer(methods: MethodView[], preferred: string | undefined): void {
    const keep = this.chosen && methods.some((m) => m.name === this.select.value);
    setOptions(this.select, methodOptions(methods), keep ? this.select.value : preferred);
  }

  /** Shows `method` as chosen (a run started or a result shown with it). */
  choose(method: string): void {
    selectOption(this.select, method);
    this.chosen = true;
  }
}

/** A select's options for layers a dataset can pool (spatial layers), the CAM layer preferred. */
export function datasetLayerOptions(s: State): { options: { value: string; label: string; description: string }[]; preferred?: string } {
  const layers = camLayers(s.model?.layers ?? []);
  const auto = defaultSpatialLayer(s.model);
  return {
    options: layers.map((l) => ({ value: l.tensor, label: l.scope ?? l.name, description: `${l.opType} ${formatShape(l.shape)}${l === auto ? ' · CAM layer' : ''}` })),
    preferred: auto?.tensor,
  };
}
