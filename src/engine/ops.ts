// Differentiable ops, one file per family under ops/ (mirroring native/src). Layout: 4-D activations
// are NHWC ([batch, height, width, channels]) and stay that way end to end; conv weights are HWIO
// ([kh, kw, inChannels, outChannels]). Every op checks shapes before calling the addon, so the native
// side only ever sees consistent sizes.
//
// The native primitives are the ones the U-Net and its training need (conv, conv+BN+activation,
// dense, max-pool, upsample+concat, activations, add/mul, optimizer steps); everything else is
// composed in TypeScript from them (dropout = mul by a mask, mean = scale(sum), flatten = reshape).
export type { Activation } from "./ops/check.js";
export { conv2d, conv2dActInference, dense, type ConvOptions } from "./ops/conv.js";
export {
  batchNorm,
  convBnAct,
  foldBatchNorm,
  type BatchNormState,
  type BatchNormOptions,
} from "./ops/batchnorm.js";
export { maxPool2x2, upsampleConcat } from "./ops/pool-resize.js";
export {
  elu,
  relu,
  sigmoid,
  add,
  mul,
  scale,
  dropout,
  float32,
  reshape,
  flatten,
  sum,
  mean,
} from "./ops/elementwise.js";
