/*
 * What the viewer lists: the images of a data set in any layout (data/layout.ts) or of a folder (any
 * format, data/inputs.ts), each paired with its truth and its prediction by report/match.ts's rule. Masks
 * are held as runs (a few KiB a frame, so thousands fit) and images are not kept at all: the server
 * decodes a frame when its picture is asked for. Truth and predictions come as:
 *   truth  the data set's own masks (--data); or a mask folder or a CSV (--truth)
 *   preds  a `nerveseg predict` output for files (predictions.csv + masks/), a folder of mask images, a
 *          predictions CSV, a Kaggle submission, or a prediction folder (predictions.json + probs.npy)
 *          post-processed at each image's own size with the given parameters (see sources.ts).
 */
import fs from "node:fs";
import path from "node:path";
import { fileError, UserError } from "../core/errors.js";
import { listImageInputs } from "../data/inputs.js";
import { scanLayout, type LayoutOptions } from "../data/layout.js";
import { compareIds } from "../io/ids.js";
import { detectFormat, readImageFile } from "../io/image-read.js";
import { readPngHeader } from "../io/png-palette.js";
import { tiffPages } from "../io/tiff-pages.js";
import { parseRle } from "../io/rle.js";
import { postprocess, type MaskSize, type PostprocessParams } from "../postprocess/mask-rule.js";
import { frameProbMap, type PredictionSet } from "../predict/prediction-store.js";
import { readMaskUnion } from "../report/mask-files.js";
import { matchToImages, type Keyed, type ListedImage } from "../report/match.js";
import { maskToRuns, type MaskRuns } from "./mask-runs.js";
import { predItems, truthItems, type MaskSource, type SourceItem } from "./sources.js";
import { readRegularFile } from "../io/read-file.js";
import { decodeLimits, maxImageFileBytes } from "../io/limits.js";

export type { MaskRuns } from "./mask-runs.js";

export interface PredRuns extends MaskRuns {
  /** The presence probability, where the prediction has one. */
  presence: number | null;
  /** Its index in the probability maps (a predictions.json + probs.npy folder), for the heat-map. */
  prob: number | null;
}

/** One listed frame: an image file (frame `frame` of it), its truth and its prediction. */
export interface ViewFrame {
  /** The image's id (its path below its folder, without extension), `<id>#k` for frame k of a file. */
  id: string;
  file: string;
  /** 0-based. */
  frame: number;
  truth: MaskRuns | null;
  pred: PredRuns | null;
}

export interface FrameSources {
  /** A folder of images in any format (searched below; files named like masks are left out). */
  images?: string;
  /** A data set in any layout, with its masks as the truth (instead of images + truth). */
  data?: string;
  layout?: LayoutOptions;
  /** One value of a label-map truth mask is the structure. */
  maskLabel?: number;
  truth?: string;
  preds?: string;
  params: PostprocessParams;
  onProgress?: (done: number, total: number) => void;
}

export interface LoadedFrames {
  frames: ViewFrame[];
  probs: PredictionSet | null;
  hasTruth: boolean;
  hasPreds: boolean;
  /** Where the images are. */
  root: string;
  /** Things left out, for the user (files without a pair, predictions of other images, ...). */
  notes: string[];
}

/**
 * Ids travel in URLs: any path below the image folder, but no control character, backslash, or empty, "."
 * or ".." part. Requests naming anything else are refused before the (index-only) lookup.
 */
export function isSafeId(id: string): boolean {
  // eslint-disable-next-line no-control-regex
  if (id.length === 0 || id.length > 400 || /[\u0000-\u001f\u007f\\]/.test(id)) return false;
  return id.split("/").every((p) => p !== "" && p !== "." && p !== "..");
}

/** The images to list (with their own masks for a data set), and notes on what was left out. */
function listImages(o: FrameSources): {
  images: ListedImage[];
  masks: Map<string, string[]> | null;
  root: string;
  notes: string[];
} {
  const notes: string[] = [];
  if (o.data !== undefined) {
    if (o.images !== undefined || o.truth !== undefined)
      throw new UserError("view: --data brings its own images and truth; give --images/--truth without it");
    const scanned = scanLayout(o.data, o.layout);
    if (scanned.problems.length > 0) {
      const p = scanned.problems[0];
      notes.push(`${scanned.problems.length} file(s) left out, e.g. ${p.file}: ${p.reason}`);
    }
    const masks = new Map(scanned.train.map((e) => [e.id, e.masks]));
    return {
      images: scanned.train.map((e) => ({ id: e.id, file: e.image })),
      masks,
      root: scanned.root,
      notes,
    };
  }
  if (o.images === undefined) throw new UserError("view: give --images DIR or --data DIR");
  try {
    if (!fs.statSync(o.images).isDirectory())
      throw fileError(o.images, "not a folder (want a folder of images)");
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw fileError(o.images, `cannot read folder (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const found = listImageInputs([o.images]);
  if (found.files.length === 0)
    throw fileError(o.images, `no images in this folder (only ${found.maskFilesLeftOut} mask files)`);
  return {
    images: found.files.map((f) => ({ id: f.id.split(path.sep).join("/"), file: f.file })),
    masks: null,
    root: o.images,
    notes,
  };
}

/** Runs `fn` over 0..count-1, `width` at a time; after a failure no more are started. */
async function eachLimited(count: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    try {
      while (next < count) await fn(next++);
    } catch (e) {
      next = count;
      throw e;
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, lane));
}

/**
 * A frame's size, for predictions that need one and have no truth to give it. PNG and TIFF say it in their
 * header: a Kaggle test folder's 5,508 frames need no decoding for it (which would cost about as much as
 * post-processing them). Other formats are decoded.
 */
async function frameSize(file: string, frame: number): Promise<MaskSize> {
  let bytes: Buffer;
  try {
    bytes = await readRegularFile(file, {
      maxBytes: maxImageFileBytes(decodeLimits()),
      reason: "the image file limit",
    });
  } catch {
    bytes = Buffer.alloc(0); // readImageFile below says what is wrong, in its words
  }
  const format = detectFormat(bytes);
  if (format === "tiff") {
    const pages = tiffPages(bytes);
    const page = typeof pages === "string" ? undefined : pages.filter((p) => !p.reduced)[frame];
    if (page) return { width: page.width, height: page.height };
  } else if (format === "png" && frame === 0) {
    const { width, height } = readPngHeader(bytes, file);
    return { width, height };
  }
  const d = await readImageFile(file, { frames: frame === 0 ? "first" : "all" });
  const f = d.frames[frame];
  if (!f) throw fileError(file, `has ${d.frameCount} frame(s), not a frame ${frame + 1}`);
  return { width: f.image.width, height: f.image.height };
}

const frameNumber = (key: string): number => (key === "" ? 0 : Number(key.slice(1)) - 1);

/** Lists, pairs and scores the frames; see the file comment. */
export async function loadFrames(o: FrameSources): Promise<LoadedFrames> {
  const { images, masks, root, notes } = listImages(o);
  const listed: ListedImage[] = [];
  for (const im of images) {
    if (isSafeId(im.id)) listed.push(im);
    else notes.push(`${im.file}: left out (its name has control characters or a backslash)`);
  }
  listed.sort((a, b) => compareIds(a.id, b.id));

  let truthList: Keyed<SourceItem>[] | null = null;
  if (masks) {
    truthList = listed.map((im) => {
      const files = masks.get(im.id) ?? [];
      // An image listed without a mask (a CSV layout's empty cell) has no target.
      const source: MaskSource =
        files.length === 0 ? { kind: "empty" } : { kind: "files", files, label: o.maskLabel };
      return { key: im.id, where: files[0] ?? im.file, file: im.file, value: { source, presence: null } };
    });
  } else if (o.truth !== undefined) truthList = truthItems(o.truth, o.maskLabel, o.images);
  const pred = o.preds !== undefined ? predItems(o.preds, o.images) : null;

  const pair = (items: Keyed<SourceItem>[], what: string, source: string) => {
    const m = matchToImages(listed, items);
    if (m.unmatched.length > 0) {
      const u = m.unmatched[0];
      if (m.byImage.size === 0)
        throw fileError(
          source,
          `none of its ${items.length} ${what} is for an image in ${root} (e.g. "${u.key}")`,
        );
      notes.push(
        `${m.unmatched.length} ${what} in ${source} name no image in ${root}, e.g. "${u.key}" (${u.where})`,
      );
    }
    return m.byImage;
  };
  const truthBy = truthList ? pair(truthList, "truth masks", o.truth ?? o.data ?? "") : null;
  const predBy = pred ? pair(pred.items, "predictions", o.preds ?? "") : null;

  // One frame per image, or one per frame `#k` its truth or prediction names.
  type Item = Keyed<SourceItem>;
  const plan: { image: ListedImage; key: string; truth: Item | null; pred: Item | null }[] = [];
  for (const image of listed) {
    const t = truthBy?.get(image.id);
    const p = predBy?.get(image.id);
    const keys = new Set([...(t?.keys() ?? []), ...(p?.keys() ?? [])]);
    keys.delete("");
    const frames = keys.size === 0 ? [""] : [...keys].sort((a, b) => frameNumber(a) - frameNumber(b));
    for (const key of frames)
      plan.push({
        image,
        key,
        truth: t?.get(key) ?? t?.get("") ?? null,
        pred: p?.get(key) ?? p?.get("") ?? null,
      });
  }

  /** A mask at its own size; `size` gives an empty mask or a probability map its frame's size. */
  const read = async (item: Item, size: () => Promise<MaskSize>): Promise<MaskRuns> => {
    const s = item.value.source;
    const where = item.where;
    if (s.kind === "files") {
      const m = await readMaskUnion(s.files, s.label);
      return { runs: maskToRuns(m.mask, m.width, m.height), width: m.width, height: m.height, where };
    }
    if (s.kind === "rle") {
      const runs = parseRle(s.rle, s.width, s.height, where);
      return { runs, width: s.width, height: s.height, where };
    }
    const { width, height } = await size();
    const own = { width, height };
    if (s.kind === "empty") return { runs: new Uint32Array(0), ...own, where };
    // Post-processed at the frame's own size, as `predict` does for files.
    const mask = postprocess(
      frameProbMap(pred!.probs!, s.index, own),
      item.value.presence ?? 1,
      o.params,
      own,
    );
    return { runs: maskToRuns(mask, own.width, own.height), ...own, where };
  };

  const frames = new Array<ViewFrame>(plan.length);
  let done = 0;
  // A few at once: sharp decodes PNG and JPEG on its own threads meanwhile. (Worker threads were tried for
  // the GIF, BMP and TIFF decoders, which run here: on 2 busy cores their start-up cost more than they saved.)
  await eachLimited(plan.length, 4, async (i) => {
    const { image, key, truth: t, pred: p } = plan[i];
    const frame = frameNumber(key);
    const imageSize = () => frameSize(image.file, frame);
    const truth = t ? await read(t, imageSize) : null;
    let predRuns: PredRuns | null = null;
    if (p) {
      const m = await read(p, truth ? () => Promise.resolve(truth) : imageSize);
      if (truth && (m.width !== truth.width || m.height !== truth.height))
        throw fileError(
          m.where,
          `the prediction is ${m.width}x${m.height} but the truth ${truth.where} is ${truth.width}x${truth.height}`,
        );
      const s = p.value.source;
      predRuns = { ...m, presence: p.value.presence, prob: s.kind === "prob" ? s.index : null };
    }
    frames[i] = { id: image.id + key, file: image.file, frame, truth, pred: predRuns };
    o.onProgress?.(++done, plan.length);
  });
  return {
    frames,
    probs: pred?.probs ?? null,
    hasTruth: truthBy !== null,
    hasPreds: predBy !== null,
    root,
    notes,
  };
}
