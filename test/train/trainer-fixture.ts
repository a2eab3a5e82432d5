// A tiny prepared folder (manifest.json + uint8 .npy arrays, the layout `nerveseg prepare` writes) of
// synthetic frames: a bright disc on a noisy background, its mask the disc; some frames empty.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as E from "../../src/engine/index.js";
import { encodeNpyHeader } from "../../src/io/npy.js";
import type { Manifest } from "../../src/data/manifest.js";
import type { Preset } from "../../src/model/config.js";
import type { TrainOptions } from "../../src/train/trainer.js";
import { PRESETS } from "../../src/model/config.js";

export interface FixtureOptions {
  frames: number;
  width: number;
  height: number;
  /** Indices of the validation frames. */
  val: number[];
  seed: number;
  /** Group of each frame (default: all "1"). */
  groups?: string[];
  /** Frame pairs (a, b): b becomes a copy of a with an empty mask (a contradicting near-duplicate). */
  duplicates?: [number, number][];
}

function writeNpy(file: string, shape: number[], data: Uint8Array): void {
  const head = encodeNpyHeader("|u1", shape);
  const out = new Uint8Array(head.length + data.length);
  out.set(head);
  out.set(data, head.length);
  fs.writeFileSync(file, out);
}

export function writePreparedFixture(dir: string, o: FixtureOptions): Manifest {
  fs.mkdirSync(dir, { recursive: true });
  const rng = new E.Rng(o.seed);
  const px = o.width * o.height;
  const images = new Uint8Array(o.frames * px);
  const masks = new Uint8Array(o.frames * px);
  for (let i = 0; i < o.frames; i++) {
    const present = i % 3 !== 2;
    const r = o.height * (0.15 + 0.1 * rng.uniform());
    const cy = r + rng.uniform() * (o.height - 2 * r);
    const cx = r + rng.uniform() * (o.width - 2 * r);
    for (let y = 0; y < o.height; y++)
      for (let x = 0; x < o.width; x++) {
        const inside = present && (y - cy) ** 2 + (x - cx) ** 2 <= r * r;
        const v = (inside ? 170 : 70) + 25 * rng.normal() + 20 * Math.sin((x + 3 * i) / 3);
        images[i * px + y * o.width + x] = Math.max(0, Math.min(255, Math.round(v)));
        masks[i * px + y * o.width + x] = inside ? 1 : 0;
      }
  }
  for (const [a, b] of o.duplicates ?? []) {
    images.copyWithin(b * px, a * px, (a + 1) * px);
    masks.fill(0, b * px, (b + 1) * px);
  }
  writeNpy(path.join(dir, "train_images.npy"), [o.frames, o.height, o.width], images);
  writeNpy(path.join(dir, "train_masks.npy"), [o.frames, o.height, o.width], masks);
  const maskArea: number[] = [];
  const mean: number[] = [];
  const std: number[] = [];
  let total = 0;
  let total2 = 0;
  for (let i = 0; i < o.frames; i++) {
    let a = 0;
    let s = 0;
    let s2 = 0;
    for (let k = 0; k < px; k++) {
      a += masks[i * px + k];
      s += images[i * px + k];
      s2 += images[i * px + k] ** 2;
    }
    maskArea.push(a);
    mean.push(s / px);
    std.push(Math.sqrt(s2 / px - (s / px) ** 2));
    total += s;
    total2 += s2;
  }
  const m = total / (o.frames * px);
  const manifest: Manifest = {
    format: "nerveseg-prepared",
    version: 2,
    created: "2026-01-01T00:00:00.000Z",
    source: "fixture",
    layout: "kaggle",
    width: o.width,
    height: o.height,
    groupRule: "fixture",
    train: {
      images: "train_images.npy",
      masks: "train_masks.npy",
      ids: Array.from({ length: o.frames }, (_, i) => `1_${i + 1}`),
      groups: o.groups ?? new Array<string>(o.frames).fill("1"),
      labels: new Array<null>(o.frames).fill(null),
      files: Array.from({ length: o.frames }, (_, i) => `train/1_${i + 1}.tif`),
      sizes: Array.from({ length: o.frames }, (): [number, number] => [o.width, o.height]),
      maskArea,
      mean,
      std,
    },
    test: null,
    stats: {
      trainMean: m,
      trainStd: Math.sqrt(total2 / (o.frames * px) - m * m),
      withMask: maskArea.filter((a) => a > 0).length,
      withoutMask: maskArea.filter((a) => a === 0).length,
    },
    split: { kind: "stratified", seed: 1, valFraction: o.val.length / o.frames, val: o.val, folds: null },
    skipped: [],
  };
  fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(manifest));
  return manifest;
}

/** A tiny recipe: 16x16 input, filters [4, 8], Adam, no augmentation unless asked. */
export function tinyPreset(
  over: { epochs?: number; batch?: number; augment?: boolean; lr?: number; patience?: number } = {},
): Preset {
  const p = structuredClone(PRESETS.fast);
  p.model = { ...p.model, preset: "tiny", inputHeight: 16, inputWidth: 16, filters: [4, 8] };
  p.train.epochs = over.epochs ?? 3;
  p.train.batch = over.batch ?? 4;
  p.train.lr = over.lr ?? 1e-2;
  p.train.checkpointMinutes = 0;
  p.train.valMinArea = 0;
  // A few validation frames make a noisy val_loss: no lr cuts unless a test asks for them.
  p.train.plateau = { ...p.train.plateau, patience: over.patience ?? 1000 };
  if (!over.augment)
    p.train.augment = { flipX: false, flipY: false, rotate: 0, translate: 0, elastic: null, intensity: null };
  return p;
}

/** A quiet training run of `preset` on `data`: no logs, no lines; `out` and the rest set per call. */
export function quietTrainOptions(data: string, preset: Preset): TrainOptions {
  return {
    data,
    out: "",
    preset,
    dedupe: "off",
    resume: false,
    maxMinutes: null,
    logs: false,
    log: () => {},
  };
}

/**
 * A long tiny training through the CLI (400 epochs of a 16x16 two-level net on 16 frames): the arguments of
 * `nerveseg train` into a fresh --out, for tests that interrupt or contend with a run in progress.
 */
export function longTinyTrainArgs(): { data: string; out: string; args: string[] } {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), "nerveseg-test-"));
  writePreparedFixture(data, { frames: 16, width: 32, height: 32, val: [1, 6], seed: 3 });
  const preset = path.join(data, "tiny.json");
  fs.writeFileSync(
    preset,
    JSON.stringify({
      model: { inputHeight: 16, inputWidth: 16, filters: [4, 8] },
      train: { epochs: 400, batch: 4, valMinArea: 0 },
    }),
  );
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "nerveseg-test-"));
  return {
    data,
    out,
    args: ["train", "--data", data, "--preset", preset, "--out", out, "--threads", "1", "--quiet"],
  };
}
