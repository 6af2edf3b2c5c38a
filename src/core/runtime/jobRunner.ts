// The jobs' implementations on the core, with the state a worker keeps between calls: loaded
// models, preprocessed images and recent explanations (for export).
import * as path from 'path';
import type { ModelView } from '../../protocol';
import { ConvModel } from '../model';
import { JobArgs, JobContext, JobName, JobResult } from './jobs';

const models = new Map<string, ConvModel>();

function modelFor(modelPath: string): ConvModel {
  const model = models.get(modelPath);
  if (!model) throw new Error(`the model ${path.basename(modelPath)} is not open`);
  return model;
}

async function openModel({ modelPath, provider }: JobArgs<'openModel'>): Promise<ModelView> {
  await models.get(modelPath)?.dispose();
  models.delete(modelPath);
  const model = ConvModel.load(modelPath, { provider });
  models.set(modelPath, model);
  const summary = model.summary();
  const [layers, runtime] = await Promise.all([model.layers(), model.baseSession()]);
  return {
    name: path.basename(modelPath),
    path: modelPath,
    producer: summary.producer,
    opset: summary.opset,
    inputs: summary.inputs,
    outputs: summary.outputs,
    parameterCount: summary.parameterCount,
    opHistogram: summary.opHistogram,
    layers: layers.flatMap((l) => l.outputs.map((o) => ({ name: l.name, opType: l.opType, tensor: o.name, shape: o.shape, scope: l.scope }))),
    provider: { name: runtime.provider, reason: runtime.reason },
    preprocessing: { description: '', source: '' },
  };
}

async function closeModel({ modelPath }: JobArgs<'closeModel'>): Promise<void> {
  await models.get(modelPath)?.dispose();
  models.delete(modelPath);
}

type Handlers = { [J in JobName]: (args: JobArgs<J>, ctx: JobContext) => Promise<JobResult<J>> };

const handlers: Partial<Handlers> = { openModel, closeModel };

export function runJob<J extends JobName>(job: J, args: JobArgs<J>, ctx: JobContext): Promise<JobResult<J>> {
  const handler = handlers[job] as Handlers[J] | undefined;
  if (!handler) return Promise.reject(new Error(`unknown job '${job}'`));
  return handler(args, ctx);
}

export { modelFor };
