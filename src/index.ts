/*
 * nerveseg as a library: `import { prepare, train, predict, submit } from "nerveseg"`. The CLI (src/cli) is a
 * thin layer over exactly these functions; each takes plain options and returns typed results, reports
 * long work through an optional ProgressFactory and throws UserError (one line naming the file) on bad input.
 */
export { UserError, fileError } from "./core/errors.js";
export { noProgress, type Progress, type ProgressFactory } from "./core/progress.js";

// Data: synthetic frames, prepared arrays.
export { synthesize, type SynthOptions, type SynthSummary } from "./synth/synth.js";
export { prepare, type PrepareOptions } from "./data/prepare.js";
export { readManifest, type Manifest } from "./data/manifest.js";
export { listImageInputs } from "./data/inputs.js";
export { scanLayout, type LayoutOptions, type LayoutKind, type ScannedLayout } from "./data/layout.js";
export { evaluateLayout, type EvaluateLayoutOptions } from "./metric/evaluate-layout.js";
export { barBox, trimFrame, type FrameBox, type PixelBox, type TrimmedFrame } from "./data/trim.js";

// Files and formats.
export { readImageFile, maskFromDecoded, type DecodedFile, type DecodedFrame } from "./io/image-read.js";
export { readTiff, writeTiff } from "./io/tiff.js";
export { encodeRle, decodeRle } from "./io/rle.js";
export type { GreyImage } from "./io/image.js";

// The model: presets, the mask rule, model folders, ONNX.
export { PRESETS, loadPreset, type Preset, type ModelConfig, type TrainConfig } from "./model/config.js";
export {
  DEFAULT_POSTPROCESS,
  postprocess,
  pixelOn,
  gatedEmpty,
  placeMap,
  type PostprocessParams,
  type ProbMap,
  type MaskSize,
} from "./postprocess/mask-rule.js";
export { loadModel, readModelConfig, type LoadedModel, type ModelFolderConfig } from "./model/model-file.js";
export { exportOnnx, readOnnxMetadata, ONNX_OUTPUTS } from "./model/onnx-export.js";

// Training.
export { train, type TrainOptions, type TrainResult } from "./train/trainer.js";

// Prediction, tuning, submission.
export {
  predict,
  tuneModel,
  submit,
  type PredictRunOptions,
  type TuneRunOptions,
  type SubmitRunOptions,
} from "./predict/pipeline.js";
export { modelInput, predictBatch, predictFrames, type BatchPrediction } from "./predict/predictor.js";
export { predictFiles, type PredictFilesOptions, type PredictFilesResult } from "./predict/predict-files.js";
export {
  frameProbMap,
  readPredictions,
  writePredictions,
  type PredictionSet,
} from "./predict/prediction-store.js";
export { tunePostprocess, type TuneResult } from "./postprocess/tune.js";

// Scoring.
export { dice, softDice, emptyBaseline } from "./metric/dice.js";
export { evaluateFiles, scoreMasks, type Score } from "./metric/evaluate.js";
export { SegScoreAccumulator, type SegScore } from "./metric/segmentation-score.js";

// The whole chain, and the viewer.
export { runDemo, type DemoOptions, type DemoResult } from "./pipeline/demo.js";
export { startViewer, type ViewerOptions } from "./web/server.js";
