// The built-in gradient rules, one per op type, gathered from the rule files of each op family.
import { GradientRule } from './rule';
import { activationRules } from './rules/activation';
import { controlFlowRules } from './rules/controlflow';
import { convRules } from './rules/conv';
import { elementwiseRules } from './rules/elementwise';
import { matmulRules } from './rules/matmul';
import { normalizationRules } from './rules/normalization';
import { poolingRules } from './rules/pooling';
import { reduceRules } from './rules/reduce';
import { resizeRules } from './rules/resize';
import { shapeRules } from './rules/shape';

export const defaultRules: Readonly<Record<string, GradientRule>> = Object.freeze({
  ...activationRules,
  ...controlFlowRules,
  ...convRules,
  ...elementwiseRules,
  ...matmulRules,
  ...normalizationRules,
  ...poolingRules,
  ...reduceRules,
  ...resizeRules,
  ...shapeRules,
});
