/*
 * The resume state of a training run, as ONE safetensors file (<out>/checkpoint/last.safetensors),
 * written atomically, so a kill at any moment leaves the previous state or the new one, never a mix:
 *   tensors   model.<name>          every parameter and BN buffer of the UNet
 *             optim.<slot>.<i>      optimizer slots (Adam m/v, SGD momentum) in parameter order
 *             ema.<name>            the weights' moving average, when the recipe has one (its update
 *                                   count is the state's globalStep)
 *   metadata  format "nerveseg-checkpoint", state: JSON of TrainState (below), sha256: of the tensors and
 *             the state together (checked on load: an altered file is refused, not resumed).
 * Everything random in training is derived from (seed, epoch, batch) (see batches.ts), so the position
 * plus the dropout generator's state is all the RNG state there is.
 */
import type { Preset } from "../model/config.js";
import fs from "node:fs";
import path from "node:path";
import * as E from "../engine/index.js";
import { fileError } from "../core/errors.js";
import { readSafetensors, writeSafetensors, type Tensor as StTensor } from "../io/safetensors.js";
import { firstNonFinite, modelTensors, tensorsDigest } from "../model/model-file.js";
import crypto from "node:crypto";
import type { PlateauState } from "./lr-schedule.js";
import type { HistoryRow } from "./history.js";

export const CHECKPOINT_DIR = "checkpoint";
export const CHECKPOINT_FILE = "last.safetensors";
export const CHECKPOINT_FORMAT = "nerveseg-checkpoint";

export interface TrainState {
  version: 1;
  /** What the run must match to be resumed (model, recipe, data, dedupe), as canonical JSON. */
  fingerprint: string;
  /** Epochs completed (0-based index of the epoch in progress). */
  epoch: number;
  /** Batches of `epoch` already done. */
  batchInEpoch: number;
  /** Optimizer steps done in the whole run. */
  globalStep: number;
  optimizer: { kind: "adam" | "sgd"; step: number; lr: number };
  plateau: PlateauState;
  dropoutRng: number[] | null;
  best: { valLoss: number; epoch: number } | null;
  history: HistoryRow[];
  /** Running sums of the epoch in progress (for its logged means). */
  running: { loss: number; dice: number; images: number; batches: number; seconds: number };
}

export function checkpointPath(out: string): string {
  return path.join(out, CHECKPOINT_DIR, CHECKPOINT_FILE);
}

/** JSON cannot hold NaN (a metric not measured): stored as null, restored as NaN. */
function rowsToJson(rows: readonly HistoryRow[]): unknown[] {
  return rows.map((r) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number.isNaN(v) ? null : v])),
  );
}

function rowsFromJson(rows: unknown[]): HistoryRow[] {
  return rows.map(
    (r) =>
      Object.fromEntries(
        Object.entries(r as Record<string, number | null>).map(([k, v]) => [k, v === null ? NaN : v]),
      ) as unknown as HistoryRow,
  );
}

/** Writes the whole resume state atomically. */
export function saveCheckpoint(
  out: string,
  model: E.Module,
  opt: E.Optimizer,
  state: TrainState,
  ema: E.WeightAverage | null = null,
): void {
  const tensors: Record<string, StTensor> = {};
  const model_ = modelTensors(model);
  for (const [name, t] of Object.entries(model_)) tensors[`model.${name}`] = t;
  ema?.names.forEach((n, i) => (tensors[`ema.${n}`] = { shape: model_[n].shape, data: ema.avg[i] }));
  const os = opt.exportState();
  const shapes = opt.params.map((p) => [...p.shape]);
  for (const [slot, arrays] of Object.entries(os.slots))
    arrays.forEach((a, i) => (tensors[`optim.${slot}.${i}`] = { shape: shapes[i], data: a }));
  const json = JSON.stringify({ ...state, history: rowsToJson(state.history) });
  writeSafetensors(checkpointPath(out), tensors, {
    format: CHECKPOINT_FORMAT,
    state: json,
    sha256: checkpointDigest(tensors, json),
  });
}

/** SHA-256 of a checkpoint's tensors and state JSON: one bit changed anywhere changes it. */
function checkpointDigest(tensors: Record<string, StTensor>, state: string): string {
  return crypto.createHash("sha256").update(tensorsDigest(tensors)).update(state).digest("hex");
}

const CORRUPT = "corrupt checkpoint";

/**
 * The state's numbers make sense on their own: counters are non-negative integers that agree with each
 * other, losses and rates are finite. (Against the run — batches per epoch — see checkResumePosition.)
 */
function checkState(s: TrainState, file: string): void {
  const count = (name: string, v: unknown): number => {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
      throw fileError(file, `${CORRUPT}: ${name} is ${JSON.stringify(v)}, not a count`);
    return v;
  };
  const finite = (name: string, v: unknown): void => {
    if (typeof v !== "number" || !Number.isFinite(v))
      throw fileError(file, `${CORRUPT}: ${name} is ${JSON.stringify(v)}, not a finite number`);
  };
  count("epoch", s.epoch);
  count("batchInEpoch", s.batchInEpoch);
  count("globalStep", s.globalStep);
  count("optimizer.step", s.optimizer?.step);
  if (s.optimizer.step !== s.globalStep)
    throw fileError(file, `${CORRUPT}: optimizer step ${s.optimizer.step} but global step ${s.globalStep}`);
  finite("optimizer.lr", s.optimizer.lr);
  if (!Array.isArray(s.history) || s.history.length !== s.epoch)
    throw fileError(file, `${CORRUPT}: ${s.history?.length} history rows for ${s.epoch} finished epochs`);
  for (const [k, v] of Object.entries(s.running ?? {})) finite(`running.${k}`, v);
  if (s.best !== null) finite("best.valLoss", s.best?.valLoss);
}

/**
 * The saved position fits the run being resumed: with `batches` batches per epoch (fixed by the data, the
 * split and the batch size, all in the fingerprint), the global step is exactly epoch x batches + batch.
 */
export function checkResumePosition(out: string, s: TrainState, batches: number): void {
  if (s.batchInEpoch > batches || s.globalStep !== s.epoch * batches + s.batchInEpoch)
    throw fileError(
      checkpointPath(out),
      `${CORRUPT}: epoch ${s.epoch}, batch ${s.batchInEpoch}, step ${s.globalStep} do not fit ${batches} batches per epoch`,
    );
}

export interface LoadedCheckpoint {
  state: TrainState;
  model: Map<string, { shape: number[]; data: Float32Array }>;
  optimizerSlots: Record<string, Float32Array[]>;
  ema: Map<string, Float32Array>;
}

/** Reads a checkpoint (null when there is none). */
export function readCheckpoint(out: string): LoadedCheckpoint | null {
  const file = checkpointPath(out);
  if (!fs.existsSync(file)) return null;
  const st = readSafetensors(file);
  if (st.metadata.format !== CHECKPOINT_FORMAT || st.metadata.state === undefined)
    throw fileError(file, "not a nerveseg training checkpoint");
  let raw: TrainState;
  try {
    raw = JSON.parse(st.metadata.state) as TrainState;
  } catch (e) {
    throw fileError(file, `checkpoint state is not valid JSON (${(e as Error).message})`);
  }
  if (raw.version !== 1) throw fileError(file, `checkpoint version ${String(raw.version)} is not supported`);
  if (st.metadata.sha256 === undefined)
    throw fileError(
      file,
      "has no checksum (altered, or written by an older nerveseg): it cannot be trusted; start the run again",
    );
  if (checkpointDigest(st.tensors, st.metadata.state) !== st.metadata.sha256)
    throw fileError(file, "checksum mismatch: the checkpoint was altered or damaged after it was written");
  const bad = firstNonFinite(Object.entries(st.tensors).map(([n, t]) => [n, t.data]));
  if (bad !== null) throw fileError(file, `${CORRUPT}: non-finite value ${bad}`);
  checkState(raw, file);
  const state: TrainState = { ...raw, history: rowsFromJson(raw.history as unknown[]) };
  const model = new Map<string, { shape: number[]; data: Float32Array }>();
  const slots: Record<string, Float32Array[]> = {};
  const ema = new Map<string, Float32Array>();
  for (const [key, t] of Object.entries(st.tensors)) {
    if (key.startsWith("model.")) model.set(key.slice(6), t);
    else if (key.startsWith("ema.")) ema.set(key.slice(4), t.data);
    else {
      const m = /^optim\.([^.]+)\.(\d+)$/.exec(key);
      if (!m) throw fileError(file, `unexpected tensor ${key}`);
      (slots[m[1]] ??= [])[Number(m[2])] = t.data;
    }
  }
  for (const [slot, arrays] of Object.entries(slots))
    for (let i = 0; i < arrays.length; i++)
      if (!arrays[i]) throw fileError(file, `optimizer slot ${slot} lacks entry ${i}`);
  return { state, model, optimizerSlots: slots, ema };
}

/** Restores weights, optimizer and the weights' average from a checkpoint (errors name the file). */
export function restoreCheckpoint(
  out: string,
  ck: LoadedCheckpoint,
  model: E.Module,
  opt: E.Optimizer,
  ema: E.WeightAverage | null = null,
): void {
  try {
    model.loadStateDict(ck.model);
    if (ema) {
      ema.load(ck.ema);
      ema.updates = ck.state.globalStep;
    }
    opt.importState({
      kind: ck.state.optimizer.kind,
      step: ck.state.optimizer.step,
      slots: ck.optimizerSlots,
    });
  } catch (e) {
    throw fileError(checkpointPath(out), `does not fit this model: ${(e as Error).message}`);
  }
  opt.lr = ck.state.optimizer.lr;
}

/** What a resumed run must agree on (epochs and threads may change between sessions). */
export function fingerprintOf(
  preset: Preset,
  data: string,
  dedupe: string,
  valRows: readonly number[],
  excludeRows: readonly number[] = [],
): string {
  const { epochs: _e, threads: _t, checkpointMinutes: _c, ...train } = preset.train;
  return JSON.stringify({
    model: preset.model,
    train,
    data: path.resolve(data),
    dedupe,
    val: valRows,
    ...(excludeRows.length > 0 ? { excluded: excludeRows } : {}),
  });
}
