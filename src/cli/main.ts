// convlens: the ConvLens core on the command line. Human-readable output by default, JSON with
// --json, tensors in and out as .npy; every failure is one clear line and a non-zero exit.
import { UsageError } from './args';
import { DEFAULT_MAX_PIXELS } from '../core/limits';
import { defaultThreads } from '../core/onnx/session';
import * as activationsCommand from './commands/activations';
import * as datasetCommands from './commands/dataset';
import * as demoCommand from './commands/demo';
import * as explainCommands from './commands/explain';
import * as gradientCommand from './commands/gradient';
import * as insideCommands from './commands/inside';
import * as inspectCommand from './commands/inspect';
import * as predictCommand from './commands/predict';
import { toUserError } from '../compute/errors';
import { guardTerminalStreams, terminalText } from './output';

interface Command {
  usage: string;
  run(argv: string[]): Promise<void>;
  summary: string;
}

const COMMANDS: Record<string, Command> = {
  inspect: { usage: inspectCommand.usage, run: inspectCommand.inspect, summary: 'describe a model: inputs, outputs, ops, layers with shapes' },
  predict: { usage: predictCommand.usage, run: predictCommand.predict, summary: 'top-k classes for an image or .npy input' },
  activations: { usage: activationsCommand.usage, run: activationsCommand.activations, summary: "a layer's output with per-channel statistics" },
  gradient: { usage: gradientCommand.usage, run: gradientCommand.gradient, summary: 'gradients of an output element with respect to tensors, as .npy' },
  explain: { usage: explainCommands.usage, run: explainCommands.explainCommand, summary: 'an explanation map (CAMs, gradient attributions, perturbation methods)' },
  dataset: { usage: datasetCommands.datasetUsage, run: datasetCommands.dataset, summary: 'features and predictions of a folder of images (cached)' },
  rules: { usage: datasetCommands.rulesUsage, run: datasetCommands.rules, summary: "decision rules distilled from the network's predictions on a folder" },
  embed: { usage: datasetCommands.embedUsage, run: datasetCommands.embed, summary: 'a 2-D map (PCA or UMAP) of the penultimate features of a folder' },
  neighbors: { usage: datasetCommands.neighborsUsage, run: datasetCommands.neighbors, summary: 'the dataset images the network sees as most similar to an input' },
  'receptive-field': { usage: insideCommands.receptiveFieldUsage, run: insideCommands.receptiveField, summary: 'theoretical (and effective) receptive fields of layers' },
  'visualize-filter': { usage: insideCommands.visualizeUsage, run: insideCommands.visualizeFilter, summary: 'images that maximise channels or classes; first-layer kernels' },
  attention: { usage: insideCommands.attentionUsage, run: insideCommands.attention, summary: 'self-attention maps per layer and head, and attention rollout' },
  'sanity-check': { usage: insideCommands.sanityUsage, run: insideCommands.sanityCheck, summary: 'does an explanation change when the model weights are randomised?' },
  demo: { usage: demoCommand.usage, run: demoCommand.demo, summary: 'explain the bundled sample model on the sample images; write overlays and a report' },
  faithfulness: { usage: explainCommands.faithfulnessUsage, run: explainCommands.faithfulnessCommand, summary: 'deletion and insertion scores of explanation maps' },
};

function help(): string {
  const lines = ['usage: convlens COMMAND [options]', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(14)} ${c.summary}`, `  ${''.padEnd(14)} ${c.usage}`);
  lines.push(
    '',
    'limits (commands that read images or layers):',
    `  --max-megapixels N      largest image read, in megapixels (default ${DEFAULT_MAX_PIXELS / 1e6}); also bounds model input sizes, resize targets and .npy shapes`,
    '  --max-activation-mb N   most MiB of layer activations held at once (default 1024); larger ones are refused',
    '',
    'where models run (commands that open a model):',
    '  --provider auto|cuda|cpu  onnxruntime execution provider (default auto: CUDA when its libraries load, else the CPU)',
    `  --threads N             threads per onnxruntime op (default 0: every core, ${defaultThreads()} here)`,
    '',
    'commands that open a model keep what they build for it (gradient models, sub-models, layer shapes) in the model',
    'cache folder, ~/.cache/convlens/models or $CONVLENS_CACHE_DIR (off: none), as the VS Code extension does:',
    '  --no-cache              neither read nor write it',
  );
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name ? 0 : 2;
  }
  // Object.hasOwn: 'constructor' or '__proto__' is an unknown command, not Object.prototype's.
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    console.error(`convlens: unknown command '${terminalText(name)}'\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`usage: ${command.usage}`);
    return 0;
  }
  try {
    await command.run(rest);
    return 0;
  } catch (err) {
    // One sentence, escaped: messages quote names from the model file.
    console.error(`convlens ${name}: ${terminalText(toUserError(err).message)}`);
    if (err instanceof UsageError) console.error(`usage: ${command.usage}`);
    if (process.env.CONVLENS_DEBUG) console.error((err as Error).stack);
    return err instanceof UsageError ? 2 : 1;
  }
}

guardTerminalStreams();
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
