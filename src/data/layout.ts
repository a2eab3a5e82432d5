/*
 * Data set layouts: which files are images, which masks belong to each, and which group (subject, patient,
 * case) each image is of. Only names are looked at here; decoding happens later (src/io/image-read.ts).
 *
 *   kaggle        input/train/<subject>_<n>.tif + <subject>_<n>_mask.tif, input/test/<n>.tif
 *   folders       an image folder and a mask folder (images/ + masks/, or any two named by flags), paired by
 *                 relative path and stem; the mask may carry a suffix (_mask, _seg, ...) and another extension
 *   side-by-side  X.png beside X_mask.png (any suffix of the list), in any folder below the input
 *   csv           a CSV of image,mask[,group] (paths relative to the CSV; one row per mask, so an image may
 *                 have several rows; an empty mask cell means an image without a target)
 * In every layout images may sit in subfolders (class or patient): the folder becomes the frame's label
 * and, by default, its group. Several masks for one image (X_mask.png, X_mask_1.png, ...) are merged later
 * by union.
 */
import fs from "node:fs";
import path from "node:path";
import { fileError, UserError } from "../core/errors.js";
import { readCsv } from "../io/csv.js";
import { compareIds } from "../io/ids.js";

export const LAYOUTS = ["kaggle", "folders", "side-by-side", "csv"] as const;
export type LayoutKind = (typeof LAYOUTS)[number];

/** Extensions read as images (DICOM files may also have none: see isImageName). */
export const IMAGE_EXTS = [".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".dcm", ".dicom"];

/** Mask suffixes tried in this order (longest match wins); `--mask-suffix` replaces the list. */
export const DEFAULT_MASK_SUFFIXES = ["_mask", "_seg", "_gt", "_label", "_Annotation"];

/** Folder names taken for the mask folder of the `folders` layout when no flag names it. */
const MASK_DIR_NAMES = [
  "masks",
  "mask",
  "labels",
  "label",
  "annotations",
  "annotation",
  "gt",
  "groundtruth",
  "ground_truth",
  "segmentations",
  "segmentation",
];

export interface LayoutOptions {
  layout?: LayoutKind | "auto";
  /** folders layout: the image and mask folders (relative to the input, or absolute). */
  imagesDir?: string;
  masksDir?: string;
  maskSuffixes?: string[];
  /** A regular expression whose first capture group is the group of an image (matched on its id). */
  groupPattern?: string;
}

/** A labelled image: its masks (one or more, merged by union; none = no target) and its group. */
export interface LayoutEntry {
  /** Unique, stable: the image's path below its root without extension ("benign/benign (1)", "1_14"). */
  id: string;
  image: string;
  masks: string[];
  group: string;
  /** The subfolder below the image root, when there is one (a class or patient name). */
  label: string | null;
}

export interface ScannedLayout {
  layout: LayoutKind;
  /** Where the images were found (for messages). */
  root: string;
  train: LayoutEntry[];
  /** Images without masks meant for prediction (Kaggle's test/); empty elsewhere. */
  test: { id: string; image: string }[];
  /** How groups were assigned, for the user. */
  groupRule: string;
  /** File-level problems: masks without images, images without masks, ... (errors unless --skip-bad). */
  problems: { file: string; reason: string }[];
}

const ext = (f: string): string => path.extname(f).toLowerCase();
export const stemOf = (f: string): string =>
  IMAGE_EXTS.includes(ext(f)) ? f.slice(0, -path.extname(f).length) : f;

/** An image file by its name: a known extension, or none at all (DICOM files often have none). */
export function isImageName(name: string): boolean {
  if (name.startsWith(".")) return false;
  const e = ext(name);
  return IMAGE_EXTS.includes(e) || e === "";
}

/** Every image file below `dir`, as paths relative to it (sorted, hidden entries skipped). */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const d of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      if (d.name.startsWith(".")) continue;
      const r = rel ? path.join(rel, d.name) : d.name;
      if (d.isDirectory()) walk(r);
      else if (d.isFile() && isImageName(d.name)) out.push(r);
    }
  };
  walk("");
  return out.sort(compareIds);
}

/**
 * Splits a mask's stem into the image stem it belongs to: `X_mask` → X, `X_mask_2` → X (the third mask of
 * X), with the longest matching suffix; null when no suffix matches.
 */
export function maskBase(stem: string, suffixes: readonly string[]): string | null {
  let best: string | null = null;
  let bestLen = -1;
  for (const s of suffixes) {
    if (s === "") continue;
    const m = new RegExp(`^(.+)${escapeRegExp(s)}(?:_\\d+)?$`).exec(stem);
    if (m && s.length > bestLen) {
      best = m[1];
      bestLen = s.length;
    }
  }
  return best;
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const TRAIN_IMAGE = /^(\d+)_(\d+)\.tif$/;
const TRAIN_MASK = /^(\d+)_(\d+)_mask\.tif$/;
const TEST_IMAGE = /^(\d+)\.tif$/;

/** Picks the layout of `input` (a folder or a CSV file), unless the options name one. */
export function detectLayout(input: string, opts: LayoutOptions = {}): LayoutKind {
  if (opts.layout && opts.layout !== "auto") return opts.layout;
  if (!fs.existsSync(input)) throw fileError(input, "not found");
  if (fs.statSync(input).isFile()) {
    if (ext(input) === ".csv") return "csv";
    throw fileError(input, "a single file is not a data set: give a folder or a CSV of image,mask[,group]");
  }
  if (opts.imagesDir || opts.masksDir) return "folders";
  const train = path.join(input, "train");
  if (
    fs.existsSync(train) &&
    fs.statSync(train).isDirectory() &&
    fs.readdirSync(train).some((f) => TRAIN_IMAGE.test(f))
  )
    return "kaggle";
  if (findMaskDir(input)) return "folders";
  return "side-by-side";
}

/** The `folders` layout's two folders: a mask-named folder and the one other folder holding images. */
function findMaskDir(input: string): { images: string; masks: string } | null {
  const dirs = fs
    .readdirSync(input, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith("."))
    .map((d) => d.name);
  const masks = dirs.find((d) => MASK_DIR_NAMES.includes(d.toLowerCase()));
  if (!masks) return null;
  const others = dirs.filter((d) => d !== masks);
  const images =
    others.find((d) => ["images", "image", "imgs", "img", "frames"].includes(d.toLowerCase())) ??
    (others.length === 1 ? others[0] : undefined);
  return images ? { images, masks } : null;
}

/** Reads a data set's names in its layout: pairs, groups, and the problems found. */
export function scanLayout(input: string, opts: LayoutOptions = {}): ScannedLayout {
  const layout = detectLayout(input, opts);
  const suffixes = opts.maskSuffixes ?? DEFAULT_MASK_SUFFIXES;
  let scanned: ScannedLayout;
  if (layout === "kaggle") scanned = scanKaggle(input);
  else if (layout === "folders") scanned = scanFolders(input, opts, suffixes);
  else if (layout === "side-by-side") scanned = scanSideBySide(input, suffixes);
  else scanned = scanCsv(input);
  if (opts.groupPattern !== undefined) applyGroupPattern(scanned, opts.groupPattern);
  if (scanned.train.length === 0 && scanned.problems.length === 0)
    throw fileError(input, `no images with masks found (${layout} layout)`);
  return scanned;
}

function scanKaggle(input: string): ScannedLayout {
  const dir = path.join(input, "train");
  const files = fs
    .readdirSync(dir)
    .filter((f) => !f.startsWith("."))
    .sort();
  const names = new Set(files);
  const problems: ScannedLayout["problems"] = [];
  const train: LayoutEntry[] = [];
  for (const f of files) {
    const full = path.join(dir, f);
    if (TRAIN_MASK.test(f)) {
      if (!names.has(f.replace(/_mask\.tif$/, ".tif")))
        problems.push({ file: full, reason: "mask without its image" });
      continue;
    }
    const m = TRAIN_IMAGE.exec(f);
    if (!m) {
      problems.push({
        file: full,
        reason: "unexpected file name (want <subject>_<n>.tif and <subject>_<n>_mask.tif)",
      });
      continue;
    }
    const maskName = `${m[1]}_${m[2]}_mask.tif`;
    if (!names.has(maskName)) {
      problems.push({ file: full, reason: `missing mask ${maskName}` });
      continue;
    }
    train.push({
      id: `${m[1]}_${m[2]}`,
      image: full,
      masks: [path.join(dir, maskName)],
      group: m[1],
      label: null,
    });
  }
  const test: ScannedLayout["test"] = [];
  const testDir = path.join(input, "test");
  if (fs.existsSync(testDir))
    for (const f of fs
      .readdirSync(testDir)
      .filter((f) => !f.startsWith("."))
      .sort()) {
      const m = TEST_IMAGE.exec(f);
      if (!m) problems.push({ file: path.join(testDir, f), reason: "unexpected file name (want <n>.tif)" });
      else test.push({ id: m[1], image: path.join(testDir, f) });
    }
  const byId = (a: { id: string }, b: { id: string }) => compareIds(a.id, b.id);
  return {
    layout: "kaggle",
    root: dir,
    train: train.sort(byId),
    test: test.sort(byId),
    groupRule: "Kaggle subject (<subject>_<n>)",
    problems,
  };
}

/** The group of an id: its subfolder, else Kaggle-style leading digits ("12_3" → "12"), else itself. */
function assignGroups(entries: LayoutEntry[]): string {
  if (entries.length > 0 && entries.every((e) => e.label !== null)) {
    for (const e of entries) e.group = e.label!;
    return "subfolder";
  }
  const lead = /^(\d+)_/;
  if (entries.length > 0 && entries.every((e) => lead.test(path.basename(e.id)))) {
    for (const e of entries) e.group = lead.exec(path.basename(e.id))![1];
    return "leading digits of the name (<group>_...)";
  }
  for (const e of entries) e.group = e.id;
  return "none found: every image is its own group (frames of one subject may straddle the split; give --group-pattern)";
}

function applyGroupPattern(scanned: ScannedLayout, pattern: string): void {
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch (e) {
    throw new UserError(`--group-pattern: not a regular expression (${(e as Error).message})`);
  }
  for (const e of scanned.train) {
    const m = re.exec(e.id);
    if (!m || m[1] === undefined)
      throw fileError(
        e.image,
        `--group-pattern ${pattern} does not match its id "${e.id}" with a capture group`,
      );
    e.group = m[1];
  }
  scanned.groupRule = `--group-pattern ${pattern}`;
}

const labelOf = (rel: string): string | null => {
  const dir = path.dirname(rel);
  return dir === "." ? null : dir;
};

function scanFolders(input: string, opts: LayoutOptions, suffixes: readonly string[]): ScannedLayout {
  const found = opts.imagesDir && opts.masksDir ? null : findMaskDir(input);
  const resolve = (d: string | undefined, fallback: string | undefined, what: string): string => {
    const name = d ?? fallback;
    if (!name)
      throw fileError(input, `folders layout: cannot tell the ${what} folder; name it with --${what}-dir`);
    const full = path.isAbsolute(name) ? name : path.join(input, name);
    if (!fs.existsSync(full) || !fs.statSync(full).isDirectory())
      throw fileError(full, `${what} folder not found`);
    return full;
  };
  const imagesDir = resolve(opts.imagesDir, found?.images, "images");
  const masksDir = resolve(opts.masksDir, found?.masks, "masks");
  const masksByKey = new Map<string, string[]>();
  for (const rel of listTree(masksDir)) {
    const stem = stemOf(rel);
    const key = maskBase(stem, suffixes) ?? stem;
    masksByKey.set(key, [...(masksByKey.get(key) ?? []), path.join(masksDir, rel)]);
  }
  const problems: ScannedLayout["problems"] = [];
  const train: LayoutEntry[] = [];
  const used = new Set<string>();
  for (const rel of listTree(imagesDir)) {
    const id = stemOf(rel);
    const masks = masksByKey.get(id);
    if (!masks) {
      problems.push({ file: path.join(imagesDir, rel), reason: `no mask for it in ${masksDir}` });
      continue;
    }
    used.add(id);
    train.push({ id, image: path.join(imagesDir, rel), masks, group: "", label: labelOf(rel) });
  }
  for (const [key, files] of masksByKey)
    if (!used.has(key))
      for (const f of files) problems.push({ file: f, reason: `mask without its image in ${imagesDir}` });
  const groupRule = assignGroups(train);
  return { layout: "folders", root: imagesDir, train, test: [], groupRule, problems };
}

function scanSideBySide(input: string, suffixes: readonly string[]): ScannedLayout {
  const files = listTree(input);
  const byStem = new Map(files.map((rel) => [stemOf(rel), rel]));
  const masksOf = new Map<string, string[]>();
  const problems: ScannedLayout["problems"] = [];
  for (const rel of files) {
    const base = maskBase(stemOf(rel), suffixes);
    if (base === null) continue;
    if (!byStem.has(base) || maskBase(base, suffixes) !== null) {
      // X_mask.png whose X is missing; a mask of a mask is not a thing.
      if (!byStem.has(base)) problems.push({ file: path.join(input, rel), reason: "mask without its image" });
      continue;
    }
    masksOf.set(base, [...(masksOf.get(base) ?? []), path.join(input, rel)]);
  }
  const train: LayoutEntry[] = [];
  for (const rel of files) {
    const stem = stemOf(rel);
    if (maskBase(stem, suffixes) !== null && byStem.has(maskBase(stem, suffixes)!)) continue;
    const masks = masksOf.get(stem);
    if (!masks) {
      problems.push({
        file: path.join(input, rel),
        reason: `no mask beside it (want ${path.basename(stem)}${suffixes[0]}.<ext>)`,
      });
      continue;
    }
    train.push({ id: stem, image: path.join(input, rel), masks, group: "", label: labelOf(rel) });
  }
  if (train.length === 0 && files.length > 0 && problems.length === files.length)
    throw fileError(
      input,
      `no image has a mask beside it (mask suffixes tried: ${suffixes.join(", ")}); name the layout with --layout or the folders with --images-dir/--masks-dir`,
    );
  const groupRule = assignGroups(train);
  return { layout: "side-by-side", root: input, train, test: [], groupRule, problems };
}

function scanCsv(file: string): ScannedLayout {
  const table = readCsv(file);
  const col = (name: string): number => table.header.findIndex((h) => h.toLowerCase() === name);
  const [ci, cm, cg] = [col("image"), col("mask"), col("group")];
  if (ci < 0 || cm < 0)
    throw fileError(
      file,
      `needs the columns image,mask[,group]; found ${table.header.join(",").slice(0, 80)}`,
    );
  const dir = path.dirname(file);
  const byImage = new Map<string, LayoutEntry>();
  for (const row of table.rows) {
    const rel = row.fields[ci];
    if (rel === "") throw fileError(file, `line ${row.line}: empty image path`);
    const image = path.resolve(dir, rel);
    let e = byImage.get(image);
    if (!e) {
      e = {
        id: stemOf(path.normalize(rel)),
        image,
        masks: [],
        group: cg >= 0 ? row.fields[cg] : "",
        label: labelOf(path.normalize(rel)),
      };
      byImage.set(image, e);
    } else if (cg >= 0 && row.fields[cg] !== e.group)
      throw fileError(
        file,
        `line ${row.line}: ${rel} has group "${row.fields[cg]}" here and "${e.group}" above`,
      );
    if (row.fields[cm] !== "") e.masks.push(path.resolve(dir, row.fields[cm]));
  }
  const train = [...byImage.values()];
  const ids = new Set<string>();
  for (const e of train) {
    if (ids.has(e.id)) throw fileError(file, `two images share the id ${e.id} (same path without extension)`);
    ids.add(e.id);
  }
  const groupRule = cg >= 0 ? "the CSV's group column" : assignGroups(train);
  return { layout: "csv", root: dir, train, test: [], groupRule, problems: [] };
}
