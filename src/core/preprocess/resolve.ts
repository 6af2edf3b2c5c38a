// Deciding the preprocessing
import * as fs from 'fs';
import * as path from 'path';
import { FileReadError, readFileChecked } from '../files';
import { checkPixels } from '../limits';
import { LabelsSource, labelsFromObject } from '../labels/labels';
import { formatShape } from '../tensor';
import { editDistance } from '../edit-distance';
import {
  Antialias,
  IMAGENET_MEAN,
  IMAGENET_STD,
  Layout,
  METADATA_KEY,
  PreprocessContext,
  PreprocessSource,
  PreprocessSpec,
  PreprocessSpecError,
  ResolvedPreprocessing,
  SIDECAR_FIELDS,
  SPEC_FIELDS,
  SidecarFile,
} from './spec';
/** `<dir>/<model name without .onnx>.convlens.json`. */
export function sidecarPathFor(modelPath: string): string {
  return path.join(path.dirname(modelPath), `${path.basename(modelPath).replace(/\.onnx$/i, '')}.convlens.json`);
}

function fail(where: string, field: string, expected: string, value: unknown): never {
  throw new PreprocessSpecError(`${where}: '${field}' must be ${expected} (got ${JSON.stringify(value)})`);
}

const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
const isNumberList = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x));

function parseScale(value: unknown, where: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value;
  const fraction = typeof value === 'string' ? /^\s*([\d.]+)\s*\/\s*([\d.]+)\s*$/.exec(value) : null;
  const scale = fraction ? Number(fraction[1]) / Number(fraction[2]) : NaN;
  if (Number.isFinite(scale) && scale > 0) return scale;
  return fail(where, 'scale', 'a positive number or a fraction like "1/255"', value);
}

/**
 * Checks a sidecar / metadata / settings object field by field. Unknown fields close to a known one
 * are errors (a typo would silently change the numbers); others become warnings.
 */
export function parseOverrides(raw: unknown, where: string, warnings: string[] = []): SidecarFile {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new PreprocessSpecError(`${where} must hold a JSON object`);
  const o = raw as Record<string, unknown>;
  const out: SidecarFile = {};
  for (const key of Object.keys(o)) {
    if (SIDECAR_FIELDS.includes(key)) continue;
    const near = SIDECAR_FIELDS.find((k) => editDistance(k, key) <= 2);
    if (near) throw new PreprocessSpecError(`${where}: unknown field '${key}'; did you mean '${near}'?`);
    warnings.push(`${where}: field '${key}' is not used by ConvLens`);
  }
  const has = (key: string): boolean => o[key] !== undefined;
  if (has('size')) {
    const v = o.size;
    if (isPositiveInt(v)) out.size = [v, v];
    else if (Array.isArray(v) && v.length === 2 && v.every(isPositiveInt)) out.size = [v[0], v[1]];
    else fail(where, 'size', '[height, width] in pixels or one number', v);
  }
  if (has('resize')) {
    if (o.resize !== 'stretch' && o.resize !== 'shorter-side-crop') fail(where, 'resize', `"stretch" or "shorter-side-crop"`, o.resize);
    out.resize = o.resize;
  }
  if (has('resizeTo')) {
    if (!isPositiveInt(o.resizeTo)) fail(where, 'resizeTo', 'a positive whole number of pixels', o.resizeTo);
    out.resizeTo = o.resizeTo;
  }
  if (has('antialias')) {
    const v = o.antialias;
    if (typeof v !== 'boolean' && v !== 'skimage' && v !== 'pil' && v !== 'none') fail(where, 'antialias', 'true, false, "skimage", "pil" or "none"', v);
    out.antialias = v;
  }
  if (has('scale')) out.scale = parseScale(o.scale, where);
  if (has('mean')) {
    if (!isNumberList(o.mean)) fail(where, 'mean', 'a list of numbers, one per channel', o.mean);
    out.mean = o.mean;
  }
  if (has('std')) {
    if (!isNumberList(o.std) || o.std.some((s) => s === 0)) fail(where, 'std', 'a list of non-zero numbers, one per channel', o.std);
    out.std = o.std;
  }
  if (has('layout')) {
    if (o.layout !== 'NCHW' && o.layout !== 'NHWC') fail(where, 'layout', '"NCHW" or "NHWC"', o.layout);
    out.layout = o.layout;
  }
  if (has('colorOrder')) {
    if (o.colorOrder !== 'RGB' && o.colorOrder !== 'BGR') fail(where, 'colorOrder', '"RGB" or "BGR"', o.colorOrder);
    out.colorOrder = o.colorOrder;
  }
  if (has('grayscale')) {
    if (typeof o.grayscale !== 'boolean') fail(where, 'grayscale', 'true or false', o.grayscale);
    out.grayscale = o.grayscale;
  }
  if (has('labels')) out.labels = parseInlineLabels(o.labels, where);
  if (has('input')) {
    if (typeof o.input !== 'string' || o.input === '') fail(where, 'input', 'a non-empty string', o.input);
    out.input = o.input;
  }
  return out;
}

/** 'labels': a file name, or the names inline as a list or an {index: name} object. */
function parseInlineLabels(value: unknown, where: string): string | string[] {
  if (typeof value === 'string' && value !== '') return value;
  if (Array.isArray(value) && value.length > 0 && value.every((x) => typeof x === 'string')) return value;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    try {
      return labelsFromObject(value as Record<string, unknown>, `${where} 'labels'`);
    } catch (err) {
      throw new PreprocessSpecError((err as Error).message);
    }
  }
  return fail(where, 'labels', 'a file name, a list of class names or an object {"0": "name", ...}', value);
}

/** A sidecar is a few settings; 1 MiB is far more than one needs. */
const MAX_SIDECAR_BYTES = 2 ** 20;

function readSidecar(file: string, warnings: string[]): SidecarFile | undefined {
  if (!fs.existsSync(file)) return undefined;
  let text: string;
  try {
    // Inside the model's folder only: a sidecar that links elsewhere could show another file's text in a JSON error.
    const folder = path.dirname(file);
    const rules = { what: 'sidecar', maxBytes: MAX_SIDECAR_BYTES, limitHint: 'a sidecar holds a few preprocessing fields', inside: { folder, name: "the model's folder" } };
    text = readFileChecked(file, rules, path.basename(file)).toString('utf8');
  } catch (err) {
    if (err instanceof FileReadError) throw new PreprocessSpecError(err.message);
    throw err;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PreprocessSpecError(`${path.basename(file)} is not valid JSON: ${(err as Error).message}`);
  }
  return parseOverrides(raw, path.basename(file), warnings);
}

function readMetadata(props: { key?: string; value?: string }[] | undefined, warnings: string[]): SidecarFile | undefined {
  const entry = props?.find((p) => p.key === METADATA_KEY);
  if (!entry) return undefined;
  const where = `model metadata '${METADATA_KEY}'`;
  let raw: unknown;
  try {
    raw = JSON.parse(entry.value ?? '');
  } catch (err) {
    throw new PreprocessSpecError(`${where} is not valid JSON: ${(err as Error).message}`);
  }
  return parseOverrides(raw, where, warnings);
}

interface ShapeFacts {
  layout: Layout;
  channels?: number;
  height?: number;
  width?: number;
}

const fixed = (d: number | string | undefined): number | undefined => (typeof d === 'number' && d > 0 ? d : undefined);

function shapeFacts(shape: (number | string)[], layout: Layout | undefined): ShapeFacts {
  if (shape.length !== 4) {
    throw new PreprocessSpecError(`the model input ${formatShape(shape)} is not an image batch [N, C, H, W] or [N, H, W, C]; give a .npy tensor instead`);
  }
  const isChannels = (d: number | string): boolean => d === 1 || d === 3;
  const chosen = layout ?? (!isChannels(shape[1]) && isChannels(shape[3]) ? 'NHWC' : 'NCHW');
  const [c, h, w] = chosen === 'NCHW' ? [shape[1], shape[2], shape[3]] : [shape[3], shape[1], shape[2]];
  return { layout: chosen, channels: fixed(c), height: fixed(h), width: fixed(w) };
}

function defaultsFor(facts: ShapeFacts): PreprocessSpec {
  const gray = facts.channels === 1;
  return {
    size: [facts.height ?? 224, facts.width ?? 224],
    resize: 'stretch',
    antialias: 'skimage',
    scale: 1 / 255,
    mean: gray ? [0] : IMAGENET_MEAN,
    std: gray ? [1] : IMAGENET_STD,
    layout: facts.layout,
    colorOrder: 'RGB',
    grayscale: gray,
  };
}

function formatNumber(x: number): string {
  return String(Number(x.toPrecision(6)));
}

function formatScale(scale: number): string {
  return Math.abs(scale * 255 - 1) < 1e-9 ? '1/255' : formatNumber(scale);
}

const ANTIALIAS_NAMES: Record<Antialias, string> = {
  skimage: 'scikit-image antialiasing',
  pil: 'Pillow bilinear',
  none: 'bilinear, no antialiasing',
};

/** e.g. "stretch to 224×224 (scikit-image antialiasing), ×1/255, mean [0.485, 0.456, 0.406], std [...], RGB NCHW". */
export function describeSpec(spec: PreprocessSpec): string {
  const [h, w] = spec.size;
  const resize = spec.resize === 'stretch' ? `stretch to ${h}×${w}` : `resize the shorter side to ${spec.resizeTo}, center-crop ${h}×${w}`;
  const list = (xs: number[]): string => `[${xs.map(formatNumber).join(', ')}]`;
  return `${spec.grayscale ? 'grayscale, ' : ''}${resize} (${ANTIALIAS_NAMES[spec.antialias]}), ×${formatScale(spec.scale)}, mean ${list(spec.mean)}, std ${list(spec.std)}, ${spec.grayscale ? '' : `${spec.colorOrder} `}${spec.layout}`;
}

function checkAgainstShape(spec: PreprocessSpec, facts: ShapeFacts, shape: (number | string)[], origin: (field: string) => string): void {
  const [h, w] = spec.size;
  if ((facts.height !== undefined && facts.height !== h) || (facts.width !== undefined && facts.width !== w)) {
    throw new PreprocessSpecError(`${origin('size')} sets size [${h}, ${w}] but the model input ${formatShape(shape)} is ${facts.height ?? h}×${facts.width ?? w}`);
  }
  const channels = spec.grayscale ? 1 : 3;
  if (facts.channels !== undefined && facts.channels !== channels) {
    const why = facts.channels === 1 || facts.channels === 3 ? `${origin('grayscale')} says ${spec.grayscale ? 'grayscale' : 'colour'}` : 'images have 1 or 3 channels';
    throw new PreprocessSpecError(`the model input ${formatShape(shape)} has ${facts.channels} channels but ${why}; give a .npy tensor or fix the preprocessing`);
  }
  for (const field of ['mean', 'std'] as const) {
    if (spec[field].length !== 1 && spec[field].length !== channels) {
      throw new PreprocessSpecError(`${origin(field)} gives ${spec[field].length} ${field} values for a ${channels}-channel input`);
    }
  }
  if (spec.resize === 'shorter-side-crop' && (spec.resizeTo ?? 0) < Math.max(h, w)) {
    throw new PreprocessSpecError(`${origin('resizeTo')} sets resizeTo ${spec.resizeTo}, smaller than the ${h}×${w} crop`);
  }
}

/** Refuses a size or resizeTo over the pixel limit, naming who set it (a size not set comes from the input shape). */
function checkResizeSizes(spec: PreprocessSpec, context: PreprocessContext, origins: Map<string, string>): void {
  const limits = context.limits ?? {};
  const [h, w] = spec.size;
  const sizeOrigin = origins.get('size');
  checkPixels(sizeOrigin ? `${sizeOrigin} sets size` : `the model input ${formatShape(context.inputShape)} declares`, w, h, limits);
  if (spec.resizeTo !== undefined) {
    checkPixels(`${origins.get('resizeTo') ?? 'the default'} sets resizeTo ${spec.resizeTo}, a resize to at least`, spec.resizeTo, spec.resizeTo, limits);
  }
}

/** Decides the preprocessing of a model input: settings > sidecar > model metadata > defaults. */
export function resolvePreprocessing(context: PreprocessContext): ResolvedPreprocessing {
  const warnings: string[] = [];
  const sidecarPath = context.modelPath ? sidecarPathFor(context.modelPath) : undefined;
  const sidecar = sidecarPath ? readSidecar(sidecarPath, warnings) : undefined;
  const metadata = readMetadata(context.metadataProps, warnings);
  const settings = context.settings ? parseOverrides(context.settings, 'settings', warnings) : undefined;
  const sidecarName = sidecarPath ? path.basename(sidecarPath) : 'sidecar';
  const layers: { source: PreprocessSource; name: string; values: SidecarFile | undefined }[] = [
    { source: 'settings', name: 'settings', values: settings },
    { source: 'sidecar', name: sidecarName, values: sidecar },
    { source: 'model metadata', name: `model metadata '${METADATA_KEY}'`, values: metadata },
  ];
  const pick = <K extends keyof SidecarFile>(key: K): { value: SidecarFile[K]; from: string } | undefined => {
    for (const layer of layers) if (layer.values?.[key] !== undefined) return { value: layer.values[key], from: layer.name };
    return undefined;
  };

  const facts = shapeFacts(context.inputShape, pick('layout')?.value);
  const defaults = defaultsFor(facts);
  const origins = new Map<string, string>();
  const take = <K extends keyof SidecarFile>(key: K): SidecarFile[K] | undefined => {
    const found = pick(key);
    if (found) origins.set(key, found.from);
    return found?.value;
  };
  const size = take('size');
  const grayscale = take('grayscale') ?? defaults.grayscale;
  const resize = take('resize') ?? defaults.resize;
  const [h, w] = typeof size === 'number' ? [size, size] : (size ?? defaults.size);
  const antialias = take('antialias');
  const spec: PreprocessSpec = {
    size: [h, w],
    resize,
    antialias: antialias === true || antialias === undefined ? (resize === 'stretch' ? 'skimage' : 'pil') : antialias === false ? 'none' : antialias,
    scale: (take('scale') as number | undefined) ?? defaults.scale,
    mean: take('mean') ?? (grayscale === defaults.grayscale ? defaults.mean : grayscale ? [0] : IMAGENET_MEAN),
    std: take('std') ?? (grayscale === defaults.grayscale ? defaults.std : grayscale ? [1] : IMAGENET_STD),
    layout: take('layout') ?? defaults.layout,
    colorOrder: take('colorOrder') ?? defaults.colorOrder,
    grayscale,
  };
  if (resize === 'shorter-side-crop') spec.resizeTo = take('resizeTo') ?? Math.floor((Math.max(h, w) * 256) / 224);
  const origin = (field: string): string => origins.get(field) ?? 'the default';
  checkResizeSizes(spec, context, origins);
  checkAgainstShape(spec, facts, context.inputShape, origin);

  const labels = pick('labels');
  const source = layers.find((l) => [...origins.values()].includes(l.name))?.source ?? 'defaults';
  return {
    spec,
    source,
    explanation: explain(spec, origins, facts, context, sidecarName),
    sidecarPath: sidecar ? sidecarPath : undefined,
    labels: labels ? labelsSource(labels.value as string | string[], labels.from, context) : undefined,
    inputName: pick('input')?.value as string | undefined,
    warnings,
  };
}

/**
 * Where named labels are read: a file named by the settings inside `settingsFolder` (else the
 * model's folder), one named by the sidecar or the metadata inside the model's folder.
 */
function labelsSource(value: string | string[], from: string, context: PreprocessContext): LabelsSource {
  if (Array.isArray(value)) return { names: value, origin: from };
  const modelFolder = context.modelPath ? path.dirname(path.resolve(context.modelPath)) : undefined;
  const inside =
    from === 'settings' && context.settingsFolder
      ? { folder: path.resolve(context.settingsFolder), name: 'the workspace' }
      : modelFolder
        ? { folder: modelFolder, name: "the model's folder" }
        : undefined;
  if (!inside) throw new PreprocessSpecError(`${from} names the labels file ${JSON.stringify(value)} but the model was not opened from a file; give the labels inline`);
  return { file: value, base: inside.folder, inside, origin: from };
}

function explain(spec: PreprocessSpec, origins: Map<string, string>, facts: ShapeFacts, context: PreprocessContext, sidecarName: string): string {
  const what = `Preprocessing: ${describeSpec(spec)}.`;
  if (origins.size === 0) {
    const channels = spec.grayscale
      ? 'a 1-channel input is fed grayscale values in [0, 1] without normalisation'
      : 'a 3-channel input gets ImageNet mean/std on [0, 1] values (torchvision convention)';
    const size = facts.height && facts.width ? `the size comes from the input shape ${formatShape(context.inputShape)}` : 'symbolic sizes default to 224';
    return `${what} No settings, no ${sidecarName} beside the model and no '${METADATA_KEY}' metadata, so defaults apply: ${channels}; ${size}. Write ${sidecarName} to change them.`;
  }
  const bySource = new Map<string, string[]>();
  for (const [field, from] of origins) bySource.set(from, [...(bySource.get(from) ?? []), field]);
  const parts = [...bySource].map(([from, fields]) => `${from} (${fields.join(', ')})`);
  const rest = SPEC_FIELDS.some((f) => !origins.has(f)) ? '; other fields are defaults' : '';
  return `${what} Taken from ${parts.join(', ')}${rest}.`;
}
