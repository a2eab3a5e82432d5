import fs from "node:fs";
import path from "node:path";
import { fileError, UserError } from "../core/errors.js";
import { AtomicFileWriter, writeFileAtomic } from "../io/atomic.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../io/image.js";
import { compareIds } from "../io/ids.js";
import { encodeNpyHeader } from "../io/npy.js";
import { decodeInOrder, type DecodeJob, type DecodeResult } from "./decode-pool.js";
import { MANIFEST_NAME, type Manifest } from "./manifest.js";
import { chooseValidation, type SplitSpec } from "./split.js";

export interface PrepareOptions {
  input: string;
  out: string;
  split: SplitSpec;
  /** Skip (and list) bad files instead of stopping at the first. */
  skipBad: boolean;
  width?: number;
  height?: number;
  workers?: number;
  onProgress?: (done: number, total: number) => void;
}

interface TrainEntry {
  id: string;
  subject: number;
  image: string;
  mask: string;
}

const TRAIN_IMAGE = /^(\d+)_(\d+)\.tif$/;
const TRAIN_MASK = /^(\d+)_(\d+)_mask\.tif$/;
const TEST_IMAGE = /^(\d+)\.tif$/;

/** Room reserved for a .npy header so its shape can be patched once skipped files are known. */
const HEADER_BYTES = 128;

function listDir(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => !f.startsWith("."))
    .sort();
}

/** Pairs every training image with its mask; names and pairing problems are errors (or skips). */
function scanTrain(dir: string, skip: (file: string, reason: string) => void): TrainEntry[] {
  const files = listDir(dir);
  const names = new Set(files);
  const entries: TrainEntry[] = [];
  for (const f of files) {
    const full = path.join(dir, f);
    if (TRAIN_MASK.test(f)) {
      if (!names.has(f.replace(/_mask\.tif$/, ".tif"))) skip(full, "mask without its image");
      continue;
    }
    const m = TRAIN_IMAGE.exec(f);
    if (!m) {
      skip(full, "unexpected file name (want <subject>_<n>.tif and <subject>_<n>_mask.tif)");
      continue;
    }
    const maskName = `${m[1]}_${m[2]}_mask.tif`;
    if (!names.has(maskName)) {
      skip(full, `missing mask ${maskName}`);
      continue;
    }
    entries.push({
      id: `${m[1]}_${m[2]}`,
      subject: Number(m[1]),
      image: full,
      mask: path.join(dir, maskName),
    });
  }
  return entries.sort((a, b) => compareIds(a.id, b.id));
}

function scanTest(
  dir: string,
  skip: (file: string, reason: string) => void,
): { id: string; image: string }[] {
  const out: { id: string; image: string }[] = [];
  for (const f of listDir(dir)) {
    const m = TEST_IMAGE.exec(f);
    if (!m) skip(path.join(dir, f), "unexpected file name (want <n>.tif)");
    else out.push({ id: m[1], image: path.join(dir, f) });
  }
  return out.sort((a, b) => compareIds(a.id, b.id));
}

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
 * Reads the Kaggle layout (`input/train`, `input/test`) into uint8 .npy arrays at full resolution plus a
 * manifest. Streams: each frame is written as soon as it is decoded (in order), so memory stays flat.
 * Output files appear only when everything succeeded; the manifest is renamed last.
 */
export async function prepare(opts: PrepareOptions): Promise<Manifest> {
  const width = opts.width ?? KAGGLE_WIDTH;
  const height = opts.height ?? KAGGLE_HEIGHT;
  const trainDir = path.join(opts.input, "train");
  const testDir = path.join(opts.input, "test");
  if (!fs.existsSync(trainDir))
    throw fileError(trainDir, "not found (expected the Kaggle layout input/train, input/test)");
  const skipped: { file: string; reason: string }[] = [];
  const skip = (file: string, reason: string): void => {
    if (!opts.skipBad) throw fileError(file, `${reason} (use --skip-bad to skip such files)`);
    skipped.push({ file, reason });
  };
  const train = scanTrain(trainDir, skip);
  const test = fs.existsSync(testDir) ? scanTest(testDir, skip) : [];
  if (train.length === 0) throw fileError(trainDir, "no training images found");

  fs.mkdirSync(opts.out, { recursive: true });
  const writers: FrameArrayWriter[] = [];
  const open = (name: string): FrameArrayWriter => {
    const w = new FrameArrayWriter(path.join(opts.out, name), height, width);
    writers.push(w);
    return w;
  };
  const total = train.length + test.length;
  let done = 0;
  try {
    const trainImages = open("train_images.npy");
    const trainMasks = open("train_masks.npy");
    const kept = {
      ids: [] as string[],
      subjects: [] as number[],
      maskArea: [] as number[],
      mean: [] as number[],
      std: [] as number[],
    };
    let pixelSum = 0;
    let pixelSq = 0;
    const onBad = (r: DecodeResult & { ok: false }, file: string): void =>
      skip(file, r.error.replace(`${file}: `, ""));

    const trainJobs: DecodeJob[] = train.map((t, index) => ({
      index,
      image: t.image,
      mask: t.mask,
      width,
      height,
    }));
    await decodeInOrder(
      trainJobs,
      (r) => {
        opts.onProgress?.(++done, total);
        const t = train[r.index];
        if (!r.ok) return onBad(r, t.image);
        trainImages.append(r.image);
        trainMasks.append(r.mask!);
        kept.ids.push(t.id);
        kept.subjects.push(t.subject);
        kept.maskArea.push(r.area);
        kept.mean.push(r.mean);
        kept.std.push(r.std);
        pixelSum += r.mean;
        pixelSq += r.std * r.std + r.mean * r.mean;
      },
      opts.workers,
    );
    if (kept.ids.length === 0) throw new UserError(`${trainDir}: every training image was bad`);

    let testPart: Manifest["test"] = null;
    if (test.length > 0) {
      const testImages = open("test_images.npy");
      const t = { ids: [] as string[], mean: [] as number[], std: [] as number[] };
      const jobs: DecodeJob[] = test.map((e, index) => ({
        index,
        image: e.image,
        mask: null,
        width,
        height,
      }));
      await decodeInOrder(
        jobs,
        (r) => {
          opts.onProgress?.(++done, total);
          if (!r.ok) return onBad(r, test[r.index].image);
          testImages.append(r.image);
          t.ids.push(test[r.index].id);
          t.mean.push(r.mean);
          t.std.push(r.std);
        },
        opts.workers,
      );
      testPart = { images: "test_images.npy", ...t };
    }

    const n = kept.ids.length;
    const trainMean = pixelSum / n;
    const manifest: Manifest = {
      format: "nerveseg-prepared",
      version: 1,
      created: new Date().toISOString(),
      source: path.resolve(opts.input),
      width,
      height,
      train: { images: "train_images.npy", masks: "train_masks.npy", ...kept },
      test: testPart,
      stats: {
        trainMean,
        trainStd: Math.sqrt(Math.max(0, pixelSq / n - trainMean * trainMean)),
        withMask: kept.maskArea.filter((a) => a > 0).length,
        withoutMask: kept.maskArea.filter((a) => a === 0).length,
      },
      split: {
        ...opts.split,
        val: chooseValidation(
          kept.maskArea.map((a) => a > 0),
          kept.subjects,
          opts.split,
        ),
      },
      skipped,
    };
    for (const w of writers) w.commit();
    writeFileAtomic(path.join(opts.out, MANIFEST_NAME), JSON.stringify(manifest, null, 1) + "\n");
    return manifest;
  } catch (e) {
    for (const w of writers) w.abort();
    throw e;
  }
}
