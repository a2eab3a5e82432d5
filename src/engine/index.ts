// Public entry point of the engine: import everything from here.
export {
  Tensor,
  zeros,
  full,
  fromArray,
  scalar,
  untracked,
  tidy,
  keep,
  noGrad,
  backward,
  grad,
  tapeLength,
} from "./tensor.js";
export { tensorBytes, releaseMemoryPool } from "./memory.js";
export type { Shape, DType } from "./tensor.js";
export * from "./ops.js";
export { diceLoss, bceLoss } from "./losses.js";
export type { DiceOptions, BceOptions } from "./losses.js";
export { Parameter, Module, Conv2d, BatchNorm2d, ConvBnAct, Dense } from "./nn.js";
export type { LayerInit, Init } from "./nn.js";
export { Adam, SGD, Optimizer, WeightAverage, clipGradNorm } from "./optim.js";
export type { AdamOptions, SgdOptions, OptimizerState } from "./optim.js";
export { Rng } from "../core/random.js";
export type { RngState } from "../core/random.js";
export { heNormal, glorotUniform, fans } from "./init.js";
export { setThreads, getThreads, setConvChunkBytes } from "./native.js";
export {
  activationDType,
  bf16Supported,
  resolvePrecision,
  choosePrecision,
  PRECISION_CHOICES,
} from "./precision.js";
export type { Precision, PrecisionChoice } from "./precision.js";
/** Bytes held by live tensors (for leak checks). */
export { tensorBytes as nativeBytes } from "./memory.js";
