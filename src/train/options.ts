/*
 * What a training run is asked (TrainOptions) and what it answers (TrainResult): the one boundary between
 * callers (the CLI, cross-validation, the demo) and the run (run.ts builds it, trainer.ts drives it).
 */
import type { Log, ProgressFactory } from "../core/progress.js";
import type { DedupePolicy } from "../data/dedupe.js";
import type { Preset } from "../model/config.js";
import type { HistoryRow } from "./history.js";
import type { DedupeSummary } from "./training-data.js";

export interface TrainOptions {
  /** Prepared folder (manifest.json + arrays). */
  data: string;
  out: string;
  /** The recipe, CLI overrides already applied. */
  preset: Preset;
  dedupe: DedupePolicy | "off";
  /** Validation rows of the prepared arrays (default: the manifest's split; cross-validation passes a fold). */
  valRows?: readonly number[];
  /** Rows neither trained nor validated on (cross-validation's held-out fold, scored afterwards). */
  excludeRows?: readonly number[];
  resume: boolean;
  /** Stop (resumably) after this many minutes of training; null = no limit. */
  maxMinutes: number | null;
  /** Progress bars for resizing and each epoch (default: none; the per-epoch summary line is the log). */
  progress?: ProgressFactory;
  /** Build batches on a worker thread (default true). */
  prefetchWorker?: boolean;
  /** Write TensorBoard logs, history.csv and curves.png (default true). */
  logs?: boolean;
  /** Save the state and stop right after this many optimizer steps of the run (simulates an interruption). */
  stopAfterSteps?: number;
  /** Polled after every step: true saves the resume state and stops (Ctrl-C in the CLI). */
  shouldStop?: () => boolean;
  /** Progress and summary lines (default: silent; the CLI prints them on stderr). */
  log?: Log;
}

export interface TrainResult {
  stopped: "done" | "early-stop" | "time" | "steps" | "interrupted";
  epochsDone: number;
  globalStep: number;
  best: { valLoss: number; epoch: number } | null;
  history: HistoryRow[];
  trainFrames: number;
  valFrames: number;
  /** Validation Kaggle score of predicting every mask empty. */
  emptyBaseline: number;
  dedupe: DedupeSummary;
  /** Peak resident set size seen during training (bytes). */
  peakRss: number;
}

/** Why a run stopped. */
export type Stop = TrainResult["stopped"];
