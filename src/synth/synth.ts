/**
 * `nerveseg synth`: synthetic ultrasound frames with ground truth, in the exact Kaggle layout, for demos,
 * tests and benchmarks (the real data needs a Kaggle login).
 *
 *   DIR/train/<subject>_<n>.tif, DIR/train/<subject>_<n>_mask.tif   580x420 8-bit grey, LZW, masks 0/255
 *   DIR/test/<n>.tif                                                  test images
 *   DIR/test_masks.csv                                                their masks, `img,pixels` (Kaggle RLE)
 *   DIR/synth.json                                                    seed, options, contradicting pairs
 *
 * Deterministic: the same options give byte-identical files, however many workers render them.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { UserError } from "../core/errors.js";
import { writeFileAtomic } from "../io/atomic.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../io/image.js";
import { parseRle } from "../io/rle.js";
import { loadShapeLibrary } from "./shapes.js";
import { planSynth, type ContradictingPair, type PlannedFrame, type SynthPlan } from "./plan.js";
import type { SceneSpec } from "./scene.js";
import type { SynthWorkerData } from "./worker.js";
import { writeFrames, type FrameResult } from "./write.js";

export { renderFrame, type FrameParams, type RenderedFrame } from "./render.js";
export { buildScene, type SceneSpec, type SynthScene } from "./scene.js";
export { planSynth, type ContradictingPair, type PlannedFrame, type SynthPlan } from "./plan.js";

export interface SynthOptions {
  /** Output folder (created; existing files of the same names are replaced). */
  out: string;
  /** Training subjects (default 5). */
  subjects?: number;
  /** Frames per subject, train and test alike (default 20). */
  frames?: number;
  /** Test images (default 20). */
  test?: number;
  /** Seed (default 1). */
  seed?: number;
  /** Share of training frames that are near-duplicates of a labelled frame with an empty mask (default 0.03). */
  noiseFraction?: number;
  /** A train_masks.csv to take the nerve outlines from (default: wobbly ovals). */
  shapes?: string;
  /** Worker threads (default: min(2, cores); 0 renders in this thread). */
  workers?: number;
}

export const SYNTH_DEFAULTS = { subjects: 5, frames: 20, test: 20, seed: 1, noiseFraction: 0.03 } as const;

export interface SynthProgress {
  done: number;
  total: number;
  name: string;
}

export interface SynthSummary {
  out: string;
  train: number;
  test: number;
  /** Training frames whose mask is not empty. */
  trainWithNerve: number;
  testWithNerve: number;
  contradicting: number;
  workers: number;
  seconds: number;
  imagesPerSecond: number;
}

/** What DIR/synth.json holds. */
export interface SynthManifest {
  generator: "nerveseg synth";
  version: 1;
  seed: number;
  options: { subjects: number; frames: number; test: number; noiseFraction: number; shapes: string | null };
  width: number;
  height: number;
  train: number;
  test: number;
  trainWithNerve: number;
  testWithNerve: number;
  /** Near-duplicate pairs whose labels contradict: `image` has an empty mask, `duplicateOf` a nerve. */
  contradicting: ContradictingPair[];
}

function checkInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new UserError(`synth: ${name} must be a whole number from ${min} to ${max} (got ${v})`);
  }
  return v;
}

/** The plan for these options (validated); the shapes file, if any, is read here. */
export function planFor(opts: SynthOptions): SynthPlan {
  const subjects = checkInt("--subjects", opts.subjects ?? SYNTH_DEFAULTS.subjects, 0, 10_000);
  const frames = checkInt("--frames", opts.frames ?? SYNTH_DEFAULTS.frames, 1, 100_000);
  const test = checkInt("--test", opts.test ?? SYNTH_DEFAULTS.test, 0, 1_000_000);
  const seed = checkInt("--seed", opts.seed ?? SYNTH_DEFAULTS.seed, 0, 0xffffffff);
  const noiseFraction = opts.noiseFraction ?? SYNTH_DEFAULTS.noiseFraction;
  if (!(noiseFraction >= 0 && noiseFraction <= 0.5)) {
    throw new UserError(`synth: --noise-fraction must be from 0 to 0.5 (got ${noiseFraction})`);
  }
  if (subjects * frames + test === 0)
    throw new UserError("synth: nothing to make (no subjects and no test images)");
  const shapes = opts.shapes ? loadShapeLibrary(opts.shapes) : undefined;
  const plan = planSynth({ subjects, frames, test, seed, noiseFraction, shapes, shapesFile: opts.shapes });
  // Check the outlines this plan uses here, so a bad one is a one-line error and not a worker crash.
  for (const s of plan.scenes)
    if (s.shapeRle) parseRle(s.shapeRle, KAGGLE_WIDTH, KAGGLE_HEIGHT, s.shapeWhere);
  return plan;
}

/** Splits the frames into `n` jobs of whole scenes (a scene is built once per job), balanced by count. */
function splitJobs(frames: PlannedFrame[], n: number): PlannedFrame[][] {
  const byScene = new Map<number, PlannedFrame[]>();
  for (const f of frames) {
    const list = byScene.get(f.scene) ?? [];
    list.push(f);
    byScene.set(f.scene, list);
  }
  const jobs: PlannedFrame[][] = Array.from({ length: n }, () => []);
  const groups = [...byScene.values()].sort((a, b) => b.length - a.length);
  for (const g of groups) {
    let best = 0;
    for (let j = 1; j < n; j++) if (jobs[j].length < jobs[best].length) best = j;
    jobs[best].push(...g);
  }
  return jobs.filter((j) => j.length > 0);
}

function runWorker(
  out: string,
  scenes: SceneSpec[],
  frames: PlannedFrame[],
  onFrame: (r: FrameResult) => void,
) {
  return new Promise<void>((resolve, reject) => {
    const data: SynthWorkerData = { out, scenes, frames };
    const worker = new Worker(new URL("./worker.js", import.meta.url), { workerData: data });
    let failed = false;
    worker.on("message", (r: FrameResult) => onFrame(r));
    worker.on("error", (e) => {
      failed = true;
      reject(e);
    });
    worker.on("exit", (code) => {
      if (failed) return;
      if (code === 0) resolve();
      else reject(new Error(`synth worker exited with code ${code}`));
    });
  });
}

/**
 * Makes `out` ready: a new or empty folder, or an earlier synth output (it has synth.json), whose
 * synth.json is removed first (so its presence always means "complete") along with .tif files this plan
 * will not write (else a smaller rerun would leave a mix of two data sets). Anything else is refused.
 */
function prepareOutDir(out: string, plan: SynthPlan): void {
  const manifest = path.join(out, "synth.json");
  if (fs.existsSync(out)) {
    if (!fs.statSync(out).isDirectory()) throw new UserError(`${out}: exists and is not a folder`);
    const entries = fs.readdirSync(out);
    if (entries.length > 0 && !entries.includes("synth.json")) {
      throw new UserError(`${out}: folder is not empty and holds no synth.json; give a new or empty folder`);
    }
    fs.rmSync(manifest, { force: true });
    const keep = new Set<string>();
    for (const f of plan.frames) {
      if (f.kind === "train") keep.add(`train/${f.name}.tif`).add(`train/${f.name}_mask.tif`);
      else keep.add(`test/${f.name}.tif`);
    }
    for (const sub of ["train", "test"]) {
      const dir = path.join(out, sub);
      if (!fs.existsSync(dir)) continue;
      for (const name of fs.readdirSync(dir)) {
        if (name.endsWith(".tif") && !keep.has(`${sub}/${name}`)) fs.rmSync(path.join(dir, name));
      }
    }
  }
  fs.mkdirSync(path.join(out, "train"), { recursive: true });
  fs.mkdirSync(path.join(out, "test"), { recursive: true });
}

export async function synthesize(
  opts: SynthOptions,
  onProgress?: (p: SynthProgress) => void,
): Promise<SynthSummary> {
  const t0 = performance.now();
  const plan = planFor(opts);
  const out = opts.out;
  prepareOutDir(out, plan);

  const total = plan.frames.length;
  const cores = typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
  let workers = opts.workers ?? Math.min(2, cores);
  if (!Number.isInteger(workers) || workers < 0) throw new UserError(`synth: --workers must be 0 or more`);
  // A worker costs ~50 ms to start; not worth it for a handful of frames.
  if (total < 8) workers = 0;

  const results: FrameResult[] = [];
  const onFrame = (r: FrameResult): void => {
    results.push(r);
    onProgress?.({ done: results.length, total, name: r.name });
  };
  if (workers === 0) {
    writeFrames(out, plan.scenes, plan.frames, onFrame);
  } else {
    const jobs = splitJobs(plan.frames, workers);
    workers = jobs.length;
    await Promise.all(jobs.map((j) => runWorker(out, plan.scenes, j, onFrame)));
  }

  const test = results.filter((r) => r.kind === "test").sort((a, b) => Number(a.name) - Number(b.name));
  const train = results.filter((r) => r.kind === "train");
  const csv = ["img,pixels", ...test.map((r) => `${r.name},${r.rle ?? ""}`)].join("\n") + "\n";
  writeFileAtomic(path.join(out, "test_masks.csv"), csv);

  const manifest: SynthManifest = {
    generator: "nerveseg synth",
    version: 1,
    seed: opts.seed ?? SYNTH_DEFAULTS.seed,
    options: {
      subjects: opts.subjects ?? SYNTH_DEFAULTS.subjects,
      frames: opts.frames ?? SYNTH_DEFAULTS.frames,
      test: opts.test ?? SYNTH_DEFAULTS.test,
      noiseFraction: opts.noiseFraction ?? SYNTH_DEFAULTS.noiseFraction,
      shapes: opts.shapes ? path.basename(opts.shapes) : null,
    },
    width: KAGGLE_WIDTH,
    height: KAGGLE_HEIGHT,
    train: train.length,
    test: test.length,
    trainWithNerve: train.filter((r) => r.area > 0).length,
    testWithNerve: test.filter((r) => r.area > 0).length,
    contradicting: plan.pairs,
  };
  writeFileAtomic(path.join(out, "synth.json"), JSON.stringify(manifest, null, 2) + "\n");

  const seconds = (performance.now() - t0) / 1000;
  return {
    out,
    train: manifest.train,
    test: manifest.test,
    trainWithNerve: manifest.trainWithNerve,
    testWithNerve: manifest.testWithNerve,
    contradicting: plan.pairs.length,
    workers,
    seconds,
    imagesPerSecond: total / seconds,
  };
}
