// "Copy as command": an explanation as the `convlens explain` command line that computes it again,
// and as a short Python snippet with pytorch-grad-cam (the CAMs) or Captum (the attributions) that
// uses the same method, options, target, layer and preprocessing on the PyTorch model the ONNX
// file was exported from. The command line is exact (the CLI runs the same code); the snippet is
// the libraries' nearest equivalent, with a comment wherever a setting has no counterpart there.
import type { PreprocessSource, PreprocessSpec } from '../core/preprocess';
import type { Target } from '../core/explain/types';
import { MASK_PLACEHOLDER, REFERENCE_PLACEHOLDER, TargetFileNames, formatTarget } from '../core/explain/target';
import { float32 } from '../core/tensor';
import type { TargetSpec } from '../protocol';
import { scopePath } from './source/layer-source';

export interface Reproducible {
  modelPath: string;
  imagePath: string;
  method: string;
  /** The layer the result was computed at (tensor or node name), or 'auto'/undefined. */
  layer?: string;
  target: TargetSpec;
  /** The files a target's data came from: a similarity's reference image (a drawn mask has none). */
  files?: TargetFileNames;
  /** Method options by OptionSpec name, as typed in the view. */
  options?: Record<string, string>;
  preprocessing: PreprocessSpec;
  /** Where the preprocessing came from: the CLI reads sidecars and metadata, not VS Code settings. */
  preprocessingSource: PreprocessSource;
  /** The overlay file the command writes; without it the command prints the summary only. */
  out?: string;
}

/** Options whose CLI flag is not their kebab-cased name (src/cli/commands/explain-flags.ts). */
const RENAMED_FLAGS: Readonly<Record<string, string>> = { method: 'ig-method' };

function flagOf(option: string): string {
  return RENAMED_FLAGS[option] ?? option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** A POSIX shell word: bare when it holds only safe characters, else single-quoted. */
export function shellWord(word: string): string {
  if (/^[\w@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The `convlens explain` command line that computes this explanation again. */
export function cliCommand(r: Reproducible): string {
  const words = ['convlens', 'explain', r.modelPath, r.imagePath, '--method', r.method];
  if (r.layer && r.layer !== 'auto') words.push('--layer', r.layer);
  words.push(...targetWords(r));
  for (const [name, value] of Object.entries(r.options ?? {}).sort(([a], [b]) => a.localeCompare(b))) words.push(`--${flagOf(name)}`, value);
  if (r.out) words.push('--out', r.out);
  return words.map(shellWord).join(' ');
}

/**
 * The view's target as the core's, for its command-line form (formatTarget in
 * src/core/explain/target.ts, the one formatter the PNG export's command uses too). A drawn mask
 * keeps its values; a similarity's reference is named by its file (Reproducible.files), so its
 * embedding is not needed here.
 */
function coreTarget(t: TargetSpec): Target {
  switch (t.kind) {
    case 'top':
      return { kind: 'class', index: 'top' };
    case 'region':
      return { kind: 'region', class: t.class, mask: t.mask === 'predicted' ? 'predicted' : float32([t.mask.height, t.mask.width], t.mask.values), output: t.output };
    case 'box':
      return { kind: 'box', index: t.index, detection: { boxes: t.boxes, iou: t.iou, minScore: t.minScore, sigmoid: t.sigmoid }, output: t.output };
    case 'similarity':
      return { kind: 'similarity', reference: new Float32Array(0), output: t.output };
    default:
      return t;
  }
}

/** The target as `convlens explain` flags. */
function targetWords(r: Reproducible): string[] {
  return formatTarget(coreTarget(r.target), r.files ?? {});
}

/** Why the command line alone may not give the same result, or undefined when it does. */
export function cliCaveat(r: Reproducible): string | undefined {
  if (r.target.kind === 'region' && r.target.mask !== 'predicted' && !r.files?.mask)
    return `The region was drawn in the panel: save the drawn mask as a PNG (white inside) and put its path in place of ${MASK_PLACEHOLDER}.`;
  if (r.target.kind === 'similarity' && !r.files?.reference) return `Replace ${REFERENCE_PLACEHOLDER} with the path of the reference image the similarity was computed to.`;
  if (r.preprocessingSource !== 'settings') return undefined;
  return "The preprocessing comes from the setting convlens.preprocessing, which the command line does not read: put the same keys in the model's <model>.convlens.json sidecar.";
}

const GRAD_CAM_CLASSES: Readonly<Record<string, string>> = {
  gradcam: 'GradCAM',
  'gradcam++': 'GradCAMPlusPlus',
  xgradcam: 'XGradCAM',
  hirescam: 'HiResCAM',
  layercam: 'LayerCAM',
  eigencam: 'EigenCAM',
  scorecam: 'ScoreCAM',
  ablationcam: 'AblationCAM',
};
const CAPTUM_METHODS = new Set(['saliency', 'smoothgrad', 'integrated-gradients', 'input-x-gradient', 'guided-backprop', 'guided-gradcam', 'occlusion', 'lime', 'kernel-shap']);

/** Whether pythonSnippet has a snippet for the method. */
export function hasPythonSnippet(method: string): boolean {
  return method in GRAD_CAM_CLASSES || CAPTUM_METHODS.has(method);
}

/**
 * The PyTorch module an ONNX layer came from, as Python: '/block4/conv/Conv_output_0' →
 * 'model.block4.conv', '/features/features.18/Conv' → 'model.features[18]'. Undefined for names
 * without a module scope.
 */
export function moduleExpression(layer: string): string | undefined {
  const segments = scopePath(layer.replace(/_output_\d+$/, ''));
  if (!segments) return undefined;
  return 'model' + segments.map((s) => (/^\d+$/.test(s) ? `[${s}]` : /^[A-Za-z_]\w*$/.test(s) ? `.${s}` : `.get_submodule(${pyString(s)})`)).join('');
}

function pyString(s: string): string {
  return JSON.stringify(s);
}

function pyNumber(n: number): string {
  return Number.isInteger(n) ? `${n}.0` : String(n);
}

function pyList(values: number[]): string {
  return `[${values.map(pyNumber).join(', ')}]`;
}

/** torchvision transforms for the preprocessing, with comments where torchvision differs. */
function transformLines(p: PreprocessSpec): string[] {
  const [h, w] = p.size;
  const antialias = p.antialias !== 'none';
  const lines: string[] = [];
  if (p.antialias === 'skimage') lines.push("    # ConvLens antialiases like scikit-image (Gaussian prefilter); torchvision's antialias differs slightly.");
  if (p.grayscale) lines.push('    T.Grayscale(num_output_channels=1),');
  if (p.resize === 'shorter-side-crop') {
    lines.push(`    T.Resize(${p.resizeTo ?? Math.min(h, w)}, antialias=${antialias ? 'True' : 'False'}),`, `    T.CenterCrop((${h}, ${w})),`);
  } else {
    lines.push(`    T.Resize((${h}, ${w}), antialias=${antialias ? 'True' : 'False'}),`);
  }
  if (Math.abs(p.scale - 1 / 255) < 1e-12) lines.push('    T.ToTensor(),  # pixel values / 255');
  else lines.push(`    T.Lambda(lambda img: T.functional.pil_to_tensor(img).float() * ${p.scale}),`);
  if (p.colorOrder === 'BGR') lines.push('    T.Lambda(lambda x: x[[2, 1, 0]]),  # RGB → BGR');
  lines.push(`    T.Normalize(mean=${pyList(p.mean)}, std=${pyList(p.std)}),`);
  if (p.layout === 'NHWC') lines.push('    T.Lambda(lambda x: x.permute(1, 2, 0)),  # CHW → HWC');
  return lines;
}

/** The target as Captum takes it (`target=`), and the forward function a difference needs. */
function captumTarget(t: TargetSpec): { target: string; forward: string } {
  switch (t.kind) {
    case 'top':
      return { target: 'model(x).argmax(dim=1).item()', forward: 'model' };
    case 'class':
      return { target: String(t.index), forward: 'model' };
    case 'difference':
      return { target: 'None', forward: `lambda inp: model(inp)[:, ${t.a}] - model(inp)[:, ${t.b}]` };
    case 'probability':
      return { target: t.index === 'top' ? 'model(x).argmax(dim=1).item()' : String(t.index), forward: 'lambda inp: model(inp).softmax(dim=1)' };
    case 'region':
      return { target: 'None', forward: `lambda inp: (model(inp)[:, ${t.class}] * mask).sum(dim=(1, 2))  # mask: the region, [H, W] at the output's size` };
    default:
      return { target: 'None', forward: `lambda inp: score(model(inp))  # score: the ${t.kind} target's score per row, as ConvLens defines it` };
  }
}

function gradCamTargets(t: TargetSpec): string {
  switch (t.kind) {
    case 'top':
      return 'None';
    case 'class':
      return `[ClassifierOutputTarget(${t.index})]`;
    case 'difference':
      return `[lambda output: output[${t.a}] - output[${t.b}]]`;
    case 'probability':
      return t.index === 'top' ? '[lambda output: output.softmax(dim=-1).max()]' : `[lambda output: output.softmax(dim=-1)[${t.index}]]`;
    case 'region':
      return `[SemanticSegmentationTarget(${t.class}, mask)]  # mask: the region, [H, W] numpy array`;
    default:
      return `[lambda output: score(output)]  # score: the ${t.kind} target's score, as ConvLens defines it`;
  }
}

/** A method's option as typed, else its default as ConvLens resolves it. */
function option(r: Reproducible, name: string, fallback: string): string {
  return r.options?.[name] ?? fallback;
}

function ints(value: string): number[] {
  return value
    .split(/[,x×\s]+/)
    .filter(Boolean)
    .map(Number);
}

/** Occlusion's window and strides as ConvLens resolves them (src/core/explain/occlusion.ts). */
function occlusionShapes(r: Reproducible): { window: number[]; strides: number[] } {
  const [h, w] = r.preprocessing.size;
  const channels = r.preprocessing.grayscale ? 1 : 3;
  const full = (given: number[], fallback: number[]) =>
    given.length === 0 ? fallback : given.length === 1 ? [channels, given[0], given[0]] : given.length === 2 ? [channels, ...given] : given;
  const window = full(ints(option(r, 'window', '')), [channels, Math.max(1, Math.round(h / 7)), Math.max(1, Math.round(w / 7))]);
  const strides = full(ints(option(r, 'strides', '')), [channels, ...window.slice(1).map((s) => Math.max(1, Math.floor(s / 2)))]);
  return { window, strides };
}

function captumCall(r: Reproducible, layer: string): { imports: string[]; lines: string[] } {
  const { target, forward } = captumTarget(r.target);
  const baseline = option(r, 'baseline', '0');
  const superpixels = `torch.from_numpy(slic(np.asarray(image.resize((${r.preprocessing.size[1]}, ${r.preprocessing.size[0]}))), n_segments=${option(r, 'segments', '50')}, compactness=${option(r, 'compactness', '1')}, start_label=0)).unsqueeze(0)`;
  switch (r.method) {
    case 'saliency':
      return { imports: ['Saliency'], lines: [`attribution = Saliency(${forward}).attribute(x, target=${target}, abs=True)`] };
    case 'smoothgrad':
      return {
        imports: ['NoiseTunnel', 'Saliency'],
        lines: [
          `attribution = NoiseTunnel(Saliency(${forward})).attribute(x, nt_type="smoothgrad", nt_samples=${option(r, 'samples', '25')}, stdevs=${option(r, 'stdev', '1')}, target=${target})`,
        ],
      };
    case 'integrated-gradients':
      return {
        imports: ['IntegratedGradients'],
        lines: [
          `attribution = IntegratedGradients(${forward}).attribute(x, baselines=${baseline}, target=${target}, n_steps=${option(r, 'steps', '50')}, method=${pyString(option(r, 'method', 'gausslegendre'))})`,
        ],
      };
    case 'input-x-gradient':
      return { imports: ['InputXGradient'], lines: [`attribution = InputXGradient(${forward}).attribute(x, target=${target})`] };
    case 'guided-backprop':
      return { imports: ['GuidedBackprop'], lines: [`attribution = GuidedBackprop(model).attribute(x, target=${target})`] };
    case 'guided-gradcam':
      return { imports: ['GuidedGradCam'], lines: [`attribution = GuidedGradCam(model, ${layer}).attribute(x, target=${target})`] };
    case 'occlusion': {
      const { window, strides } = occlusionShapes(r);
      return {
        imports: ['Occlusion'],
        lines: [
          `attribution = Occlusion(${forward}).attribute(x, sliding_window_shapes=(${window.join(', ')}), strides=(${strides.join(', ')}), baselines=${baseline}, target=${target})`,
        ],
      };
    }
    case 'lime':
      return {
        imports: ['Lime'],
        lines: [
          `lime = Lime(${forward}, interpretable_model=SkLearnRidge(alpha=${option(r, 'alpha', '1')}), similarity_func=get_exp_kernel_similarity_function("cosine", kernel_width=${option(r, 'kernelWidth', '0.25')}))`,
          `attribution = lime.attribute(x, target=${target}, n_samples=${option(r, 'samples', '1000')}, feature_mask=${superpixels})`,
        ],
      };
    case 'kernel-shap':
      return {
        imports: ['KernelShap'],
        lines: [
          `attribution = KernelShap(${forward}).attribute(x, target=${target}, n_samples=${option(r, 'samples', '500')}, baselines=${baseline}, feature_mask=${superpixels})`,
        ],
      };
  }
  throw new Error(`no Captum equivalent of ${r.method}`);
}

/**
 * A Python snippet computing the explanation with pytorch-grad-cam or Captum, or undefined for a
 * method neither library has (CAM, RISE).
 */
export function pythonSnippet(r: Reproducible): string | undefined {
  if (!hasPythonSnippet(r.method)) return undefined;
  const moduleOf = r.layer && r.layer !== 'auto' ? moduleExpression(r.layer) : undefined;
  const layer = moduleOf ?? 'model.LAYER';
  const layerNote = moduleOf ? `  # ONNX layer ${r.layer}` : `  # the module whose output ConvLens used${r.layer && r.layer !== 'auto' ? ` (ONNX layer ${r.layer})` : ''}`;
  const imageName = r.imagePath.split(/[\\/]/).pop() ?? r.imagePath;
  const head = ['import torch', 'import torchvision.transforms as T', 'from PIL import Image'];
  const body = [
    '',
    'model = ...  # the torch.nn.Module that was exported to ' + (r.modelPath.split(/[\\/]/).pop() ?? r.modelPath),
    'model.eval()',
    'transform = T.Compose([',
    ...transformLines(r.preprocessing),
    '])',
    `image = Image.open(${pyString(r.imagePath)}).convert("RGB")  # ${imageName}`,
    'x = transform(image).unsqueeze(0)',
  ];
  const optionNames = Object.keys(r.options ?? {});
  if (r.method in GRAD_CAM_CLASSES) {
    const cls = GRAD_CAM_CLASSES[r.method];
    const imports = [`from pytorch_grad_cam import ${cls}`];
    if (r.target.kind === 'class') imports.push('from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget');
    if (r.target.kind === 'region') imports.push('from pytorch_grad_cam.utils.model_targets import SemanticSegmentationTarget');
    const batch = r.options?.batch;
    const unmapped = optionNames.filter((n) => n !== 'batch');
    return [
      ...head,
      ...imports,
      ...body,
      `target_layers = [${layer}]${layerNote}`,
      `with ${cls}(model=model, target_layers=target_layers) as cam:`,
      ...(batch ? [`    cam.batch_size = ${batch}`] : []),
      ...unmapped.map((n) => `    # ConvLens option ${n}=${r.options![n]} has no pytorch-grad-cam counterpart`),
      `    grayscale_cam = cam(input_tensor=x, targets=${gradCamTargets(r.target)})[0]${r.target.kind === 'top' ? '  # targets=None: the top class' : ''}`,
      '',
    ].join('\n');
  }
  const call = captumCall(r, layer);
  const imports = [`from captum.attr import ${call.imports.join(', ')}`];
  if (r.method === 'lime') imports.push('from captum._utils.models.linear_model import SkLearnRidge', 'from captum.attr._core.lime import get_exp_kernel_similarity_function');
  if (r.method === 'lime' || r.method === 'kernel-shap') imports.push('import numpy as np', 'from skimage.segmentation import slic');
  const mapped = new Set(['samples', 'stdev', 'steps', 'method', 'baseline', 'window', 'strides', 'alpha', 'kernelWidth', 'segments', 'compactness']);
  const unmapped = optionNames.filter((n) => !mapped.has(n));
  return [
    ...head,
    ...imports,
    ...body,
    ...(r.method === 'guided-gradcam' ? [`# layer: ${layer}${layerNote}`] : []),
    ...unmapped.map((n) => `# ConvLens option ${n}=${r.options![n]} has no Captum counterpart`),
    ...call.lines,
    '',
  ].join('\n');
}
