import fs from "node:fs";
import path from "node:path";
import { fileError, UserError } from "../core/errors.js";
import { AtomicFileWriter, trackTemp, writeError, writeFileAtomic } from "../io/atomic.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../io/image.js";
import { readImageFile } from "../io/image-read.js";
import { encodeNpyHeader } from "../io/npy.js";
import { decodeInOrder, type DecodeJob, type DecodeResult } from "./decode-pool.js";
import { scanLayout, type LayoutEntry, type LayoutOptions } from "./layout.js";
import { MANIFEST_NAME, type Manifest } from "./manifest.js";
import { assignFolds, chooseValidation, type SplitSpec } from "./split.js";

export interface PrepareOptions {
  /** A data set folder in any layout (see src/data/layout.ts), or a CSV of image,mask[,group]. */
  input: string;
  out: string;
  split: SplitSpec;
  /** Skip (and list) bad files instead of stopping at the first. */
  skipBad: boolean;
  /** Layout, folders, mask suffixes, group pattern (default: detected). */
  layout?: LayoutOptions;
  /** Foreground value of label-map masks; an error naming the labels found when no mask holds it. */
  maskLabel?: number;
  /**
   * The working size frames are stored at. Default: 580x420 for the Kaggle layout; otherwise the first
   * image's own size (every other image is resized to it, and its own size is kept in the manifest).
   */
  width?: number;
  height?: number;
  workers?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Room reserved for a .npy header so its shape can be patched once skipped files are known. */
const HEADER_BYTES = 128;

/** A uint8 .npy of frames written one frame at a time, renamed into place only by commit(). */
class FrameArrayWriter {
  private writer: AtomicFileWriter;
  count = 0;

  constructor(
    file: string,
    private readonly height: number,
    private readonly width: number,
  ) {
    this.writer = new AtomicFileWriter(file);
    this.writer.write(encodeNpyHeader("|u1", [0, height, width], HEADER_BYTES));
  }

  append(frame: Uint8Array): void {
    this.writer.write(frame);
    this.count++;
  }

  commit(): void {
    this.writer.writeAt(encodeNpyHeader("|u1", [this.count, this.height, this.width], HEADER_BYTES), 0);
    this.writer.commit();
  }

  abort(): void {
    this.writer.abort();
  }
}

/**
 * Reads a labelled data set in any layout into uint8 .npy arrays at one working size plus a manifest
 * (ids, groups, each frame's own size and file, mask areas, per-image statistics, the split). Streams:
 * each frame is written as soon as it is decoded (in order), so memory stays flat whatever the number
 * and sizes of the images. Output files appear only when everything succeeded; the manifest is renamed
 * last.
 */
export async function prepare(opts: PrepareOptions): Promise<Manifest> {
  const scanned = scanLayout(opts.input, opts.layout);
  const kaggle = scanned.layout === "kaggle";
  const skipped: { file: string; reason: string }[] = [];
  const skip = (file: string, reason: string): void => {
    if (!opts.skipBad) throw fileError(file, `${reason} (use --skip-bad to skip such files)`);
    skipped.push({ file, reason });
  };
  for (const p of scanned.problems) skip(p.file, p.reason);
  const train = scanned.train;
  const test = scanned.test;
  if (train.length === 0) throw fileError(scanned.root, "no training images found");
  const { width, height } = await workingSize(opts, kaggle, train);

  // A folder this run creates is removed again if it fails or is interrupted (nothing half-made stays).
  const created = !fs.existsSync(opts.out);
  try {
    fs.mkdirSync(opts.out, { recursive: true });
  } catch (e) {
    throw writeError(opts.out, e);
  }
  const untrackOut = created ? trackTemp(opts.out) : () => {};
  const writers: FrameArrayWriter[] = [];
  const open = (name: string): FrameArrayWriter => {
    const w = new FrameArrayWriter(path.join(opts.out, name), height, width);
    writers.push(w);
    return w;
  };
  const total = train.length + test.length;
  let done = 0;
  const rel = (file: string): string =>
    path.relative(fs.statSync(opts.input).isFile() ? path.dirname(opts.input) : opts.input, file);
  try {
    const trainImages = open("train_images.npy");
    const trainMasks = open("train_masks.npy");
    const kept = {
      ids: [] as string[],
      groups: [] as string[],
      labels: [] as (string | null)[],
      files: [] as string[],
      sizes: [] as [number, number][],
      maskArea: [] as number[],
      mean: [] as number[],
      std: [] as number[],
    };
    let pixelSum = 0;
    let pixelSq = 0;
    // Frames holding each mask value, and whether any one image's masks hold several (a label map).
    const valueFrames = new Map<number, number>();
    let severalInOne = false;
    // The worker's error names the file it is about (the image, or one of its masks).
    const onBad = (r: DecodeResult & { ok: false }, files: string[]): void => {
      const file = files.find((f) => r.error.startsWith(`${f}: `)) ?? files[0];
      skip(file, r.error.startsWith(`${file}: `) ? r.error.slice(file.length + 2) : r.error);
    };
    const job = (index: number, image: string, masks: string[] | null): DecodeJob => ({
      index,
      image,
      masks,
      width,
      height,
      exact: kaggle,
      maskLabel: opts.maskLabel,
      frames: "refuse-multi",
    });

    await decodeInOrder(
      train.map((t, index) => job(index, t.image, t.masks)),
      (r) => {
        opts.onProgress?.(++done, total);
        const t = train[r.index];
        if (!r.ok) return onBad(r, [t.image, ...t.masks]);
        const f = r.frames[0];
        trainImages.append(f.image);
        trainMasks.append(f.mask!);
        kept.ids.push(t.id);
        kept.groups.push(t.group);
        kept.labels.push(t.label);
        kept.files.push(rel(t.image));
        kept.sizes.push([f.ownWidth, f.ownHeight]);
        kept.maskArea.push(f.area);
        kept.mean.push(f.mean);
        kept.std.push(f.std);
        for (const v of f.maskValues) valueFrames.set(v, (valueFrames.get(v) ?? 0) + 1);
        if (f.maskValues.length > 1) severalInOne = true;
        pixelSum += f.mean;
        pixelSq += f.std * f.std + f.mean * f.mean;
      },
      opts.workers,
    );
    if (kept.ids.length === 0) throw new UserError(`${scanned.root}: every training image was bad`);
    const maskValues = [...valueFrames]
      .sort((a, b) => a[0] - b[0])
      .map(([value, frames]) => ({ value, frames }));
    if (opts.maskLabel !== undefined && !valueFrames.has(opts.maskLabel))
      throw fileError(
        scanned.root,
        `--mask-label ${opts.maskLabel}: no mask holds it; the masks hold ${maskValues.length > 0 ? describeValues(maskValues) : "no countable labels"}`,
      );
    const warnings = [...scanned.warnings];
    // Until multi-class training lands, a label map read as binary merges its structures: said, not hidden.
    if (opts.maskLabel === undefined && severalInOne)
      warnings.push(
        `masks hold several labels: ${describeValues(maskValues)}; merged into one foreground — pick one with --mask-label N`,
      );

    let testPart: Manifest["test"] = null;
    if (test.length > 0) {
      const testImages = open("test_images.npy");
      const t = {
        ids: [] as string[],
        files: [] as string[],
        sizes: [] as [number, number][],
        mean: [] as number[],
        std: [] as number[],
      };
      await decodeInOrder(
        test.map((e, index) => job(index, e.image, null)),
        (r) => {
          opts.onProgress?.(++done, total);
          if (!r.ok) return onBad(r, [test[r.index].image]);
          const f = r.frames[0];
          testImages.append(f.image);
          t.ids.push(test[r.index].id);
          t.files.push(rel(test[r.index].image));
          t.sizes.push([f.ownWidth, f.ownHeight]);
          t.mean.push(f.mean);
          t.std.push(f.std);
        },
        opts.workers,
      );
      testPart = { images: "test_images.npy", ...t };
    }

    const n = kept.ids.length;
    const trainMean = pixelSum / n;
    const hasMask = kept.maskArea.map((a) => a > 0);
    const val = chooseValidation(hasMask, kept.groups, opts.split, kept.labels);
    const folds = opts.split.folds
      ? { k: opts.split.folds, of: assignFolds(kept.groups, opts.split.folds, opts.split.seed, scanned.root) }
      : null;
    warnings.push(...splitWarnings(hasMask, val, folds, opts.split, new Set(kept.groups).size));
    const manifest: Manifest = {
      format: "nerveseg-prepared",
      version: 2,
      created: new Date().toISOString(),
      source: path.resolve(opts.input),
      layout: scanned.layout,
      width,
      height,
      groupRule: scanned.groupRule,
      train: { images: "train_images.npy", masks: "train_masks.npy", ...kept },
      test: testPart,
      stats: {
        trainMean,
        trainStd: Math.sqrt(Math.max(0, pixelSq / n - trainMean * trainMean)),
        withMask: hasMask.filter(Boolean).length,
        withoutMask: hasMask.filter((h) => !h).length,
      },
      split: {
        kind: opts.split.kind,
        seed: opts.split.seed,
        valFraction: opts.split.valFraction,
        val,
        folds,
      },
      skipped,
      warnings,
      maskValues,
    };
    for (const w of writers) w.commit();
    // An earlier run's test array would outlive a manifest that says there is none.
    if (!testPart) fs.rmSync(path.join(opts.out, "test_images.npy"), { force: true });
    writeFileAtomic(path.join(opts.out, MANIFEST_NAME), JSON.stringify(manifest, null, 1) + "\n");
    untrackOut();
    return manifest;
  } catch (e) {
    for (const w of writers) w.abort();
    untrackOut();
    if (created) fs.rmSync(opts.out, { recursive: true, force: true });
    throw e;
  }
}

/** "1 (204 frames), 2 (183 frames)": the values and how many frames hold each (the first 8). */
function describeValues(values: { value: number; frames: number }[]): string {
  const shown = values.slice(0, 8).map((v) => `${v.value} (${v.frames} frame${v.frames === 1 ? "" : "s"})`);
  return shown.join(", ") + (values.length > 8 ? ` and ${values.length - 8} more` : "");
}

/** A side of the split (or a fold) without any target, or an empty validation side: one line each. */
function splitWarnings(
  hasMask: boolean[],
  val: number[],
  folds: { k: number; of: number[] } | null,
  spec: SplitSpec,
  groups: number,
): string[] {
  const out: string[] = [];
  if (!hasMask.some(Boolean)) return out;
  const inVal = new Set(val);
  const how =
    spec.kind !== "group"
      ? "too few frames for its share"
      : groups < 2
        ? "one group holds every frame: use --split stratified or --group-by"
        : "the split keeps whole groups: try another --seed, --group-by, or --split stratified";
  if (val.length === 0) {
    if (spec.valFraction > 0) out.push(`the validation side is empty (${how})`);
  } else {
    const targets = (side: boolean) => hasMask.filter((m, i) => m && inVal.has(i) === side).length;
    if (targets(true) === 0)
      out.push(
        `the validation side holds no frame with a target: its score says nothing about the structure (${how})`,
      );
    if (targets(false) === 0) out.push(`the training side holds no frame with a target (${how})`);
  }
  if (folds)
    for (let f = 0; f < folds.k; f++)
      if (!folds.of.some((x, i) => x === f && hasMask[i]))
        out.push(`fold ${f} holds no frame with a target (its groups have none)`);
  return out;
}

/** The working size: as asked, 580x420 for Kaggle, else the first readable image's own size. */
async function workingSize(
  opts: PrepareOptions,
  kaggle: boolean,
  train: LayoutEntry[],
): Promise<{ width: number; height: number }> {
  if ((opts.width === undefined) !== (opts.height === undefined))
    throw new UserError("give both a working width and height, or neither");
  if (opts.width !== undefined && opts.height !== undefined)
    return { width: opts.width, height: opts.height };
  if (kaggle) return { width: KAGGLE_WIDTH, height: KAGGLE_HEIGHT };
  for (const t of train) {
    try {
      const d = await readImageFile(t.image, { frames: "first" });
      return { width: d.frames[0].image.width, height: d.frames[0].image.height };
    } catch (e) {
      if (!opts.skipBad) throw e;
      // The decode pass reports it with the rest.
    }
  }
  throw fileError(opts.input, "no readable training image");
}
