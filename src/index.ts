/*
 * nerveseg as a library: `import { prepare, train, predict, submit } from "nerveseg"`. The CLI (src/cli) is a
 * thin layer over exactly these exports and imports nothing else of src/ (test/architecture.test.ts). Each
 * function takes plain options and returns typed results, reports long work through an optional
 * ProgressFactory and throws UserError (one line naming the file) on bad input. Sections follow the rooms
 * of src/ in the data's order; what a room keeps to itself is not here (tests import it from its file).
 */

// core: errors, progress, seeded random.
export { UserError, fileError } from "./core/errors.js";
export { editDistance } from "./core/text.js";
export { VERSION } from "./core/version.js";
export { noProgress, silent, type Log, type Progress, type ProgressFactory } from "./core/progress.js";

// io: files and formats, and writing outputs safely.
export { readImageFile, maskFromDecoded, type DecodedFile, type DecodedFrame } from "./io/image-read.js";
export {
  DEFAULT_DECODE_LIMITS,
  LIMIT_FLAGS,
  decodeLimits,
  setDecodeLimits,
  type DecodeLimits,
} from "./io/limits.js";
export { KAGGLE_WIDTH, KAGGLE_HEIGHT, type GreyImage } from "./io/image.js";
export { readTiff, writeTiff } from "./io/tiff.js";
export { encodeRle, decodeRle } from "./io/rle.js";
export { rleEncodeFiles, rleDecodeCsv } from "./io/rle-files.js";
export { loadTruth, loadPredictionCsv, type MaskSet } from "./io/mask-set.js";
export { csvLine } from "./io/csv.js";
export { writeFileAtomic, removeLiveTemps } from "./io/atomic.js";

// data: layouts, prepared folders, near-duplicates.
export { prepare, type PrepareOptions } from "./data/prepare.js";
export { readManifest, type Manifest } from "./data/manifest.js";
export { listImageInputs } from "./data/inputs.js";
export {
  LAYOUTS,
  scanLayout,
  type LayoutOptions,
  type LayoutKind,
  type ScannedLayout,
} from "./data/layout.js";
export { GROUP_BY, type GroupBy } from "./data/groups.js";
export { DEFAULT_DEDUPE_THRESHOLD, type DedupePolicy } from "./data/dedupe.js";
export { dedupeReport, signTrainDir, type DedupeReport } from "./data/dedupe-report.js";

// synth: synthetic ultrasound frames with truth.
export { SYNTH_DEFAULTS, synthesize, type SynthOptions, type SynthSummary } from "./synth/synth.js";

// engine: compute threads and precision.
export { setThreads, getThreads } from "./engine/native.js";
export {
  PRECISION_CHOICES,
  bf16Supported,
  resolvePrecision,
  type Precision,
  type PrecisionChoice,
} from "./engine/precision.js";

// metric: scores of masks against truth.
export { dice, softDice, emptyBaseline } from "./metric/dice.js";
export {
  evaluateFiles,
  isKagglePair,
  perImageCsv,
  presenceRates,
  scoreJson,
  scoreMasks,
  type Score,
} from "./metric/evaluate.js";
export { evaluateLayout, type EvaluateLayoutOptions } from "./metric/evaluate-layout.js";
export {
  SegScoreAccumulator,
  segPerGroupCsv,
  segPerImageCsv,
  type DistanceUnit,
  type SegScore,
  type SegSummary,
} from "./metric/segmentation-score.js";
export {
  boundaryDistances,
  parseSpacing,
  type BoundaryDistances,
  type BoundarySummary,
  type MaskGeometry,
  type PixelSpacing,
} from "./metric/surface-distance.js";

// postprocess: the mask rule and its tuning.
export {
  DEFAULT_POSTPROCESS,
  postprocess,
  readPostprocessFile,
  type PostprocessParams,
  type ProbMap,
  type MaskSize,
} from "./postprocess/mask-rule.js";
export { tunePostprocess, type TuneResult } from "./postprocess/tune.js";

// model: presets, model folders, ONNX.
export {
  DEFAULT_ELASTIC,
  PRESETS,
  loadPreset,
  type Preset,
  type ModelConfig,
  type TrainConfig,
} from "./model/config.js";
export {
  CONFIG_FILE,
  loadModel,
  modelFolders,
  readModelConfig,
  type LoadedModel,
  type ModelFolderConfig,
} from "./model/model-file.js";
export { exportOnnx, readOnnxMetadata, ONNX_OUTPUTS } from "./model/onnx-export.js";

// report: pictures.
export {
  overlayFile,
  overlayPng,
  overlayFolder,
  overlayImageFile,
  overlayImagePng,
  worstOverlaysFromCsv,
  type OverlayFolderOptions,
  type OverlayImageOptions,
} from "./report/overlay-files.js";

// train.
export { train, type TrainOptions, type TrainResult } from "./train/trainer.js";
export { checkpointPath } from "./train/checkpoint.js";

// predict: inference, tuning on validation, submission.
export {
  applyInferencePrecision,
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

// pipeline: whole chains.
export {
  VALIDATIONS,
  crossValidate,
  cvTable,
  type CvOptions,
  type CvResult,
  type Validation,
} from "./pipeline/cv.js";
export { rescoreCv, type RescoreOptions } from "./pipeline/cv-rescore.js";
export { runDemo, type DemoOptions, type DemoResult } from "./pipeline/demo.js";
export { autoPlan, writePlan, type AutoPlan, type AutoPlanOptions } from "./pipeline/plan/auto.js";
export { fingerprint, type Fingerprint } from "./pipeline/plan/fingerprint.js";
export { planRecipe, planNetwork, type Plan } from "./pipeline/plan/plan.js";
export { runBench, type BenchResult } from "./pipeline/bench/bench.js";
export { formatBench } from "./pipeline/bench/format.js";

// web: the viewer.
export { startViewer, type RunningViewer, type ViewerOptions } from "./web/server.js";
export { isLoopback } from "./web/hosts.js";
