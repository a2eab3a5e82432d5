/*
 * Data set layouts: which files are images, which masks belong to each, and which label (class) and group
 * (subject, patient, case) each image has. Only names are looked at here; decoding happens later
 * (src/io/image-read.ts).
 *
 *   kaggle        input/train/<subject>_<n>.tif + <subject>_<n>_mask.tif, input/test/<n>.tif
 *   folders       an image folder and a mask folder (images/ + masks/, or any two named by flags), paired by
 *                 relative path and stem; the mask may carry a suffix (_mask, _seg, ...) and another
 *                 extension. The pair may sit at any depth and come several times (BUSI:
 *                 `<class>/images/X.png` + `<class>/mask/X_mask.png`).
 *   side-by-side  X.png beside X_mask.png (any suffix of the list), in any folder below the input
 *   csv           a CSV of image,mask[,group] (paths relative to the CSV; one row per mask, so an image may
 *                 have several rows; an empty mask cell means an image without a target)
 * In every layout images may sit in subfolders: classes (labels) or patients (groups), told apart in
 * src/data/groups.ts. Several masks for one image (X_mask.png, X_mask_1.png, ...) are merged later by
 * union. A test/ or val/ folder of the set's own is set apart and named, never trained on.
 */
import fs from "node:fs";
import path from "node:path";
import { fileError } from "../core/errors.js";
import { readCsv } from "../io/csv.js";
import { compareIds } from "../io/ids.js";
import { assignGroups, type GroupBy } from "./groups.js";

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
  /**
   * folders layout: the image and mask folders. A plain name is the folders' name at any depth (`images`
   * and `mask` in every BUSI class folder); a path (with a slash, or absolute) is one folder, relative to
   * the input.
   */
  imagesDir?: string;
  masksDir?: string;
  maskSuffixes?: string[];
  /** A regular expression whose first capture group is the group of an image (matched on its id). */
  groupPattern?: string;
  /** Where groups come from: guessed (auto), the subfolder, the name, or none (see src/data/groups.ts). */
  groupBy?: GroupBy;
}

/** A labelled image: its masks (one or more, merged by union; none = no target) and its group. */
export interface LayoutEntry {
  /** Unique, stable: the image's path below its root without extension ("benign/benign (1)", "1_14"). */
  id: string;
  image: string;
  masks: string[];
  group: string;
  /** The subfolder below the image root (a class or a patient), or null; one all images share is null. */
  folder: string | null;
  /** The image's class: its subfolder when the subfolders are classes (src/data/groups.ts), else null. */
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
  /** One line each for the user: held-out folders set apart, files not read, groups that may leak. */
  warnings: string[];
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
const TEST_MASK = /^(\d+)_mask\.tif$/;

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
  if (findPairs(input).length > 0) return "folders";
  return "side-by-side";
}

/** Folder names taken for the image folder beside a mask folder when no flag names it. */
const IMAGE_DIR_NAMES = ["images", "image", "imgs", "img", "frames"];

/**
 * Folder names of a set's own held-out part (`test/`, `val/`): set apart and named in the report, never
 * trained on (a labelled test set is for `nerveseg evaluate`).
 */
const HELD_OUT = /^(test|tests|testing|val|valid|validation)$/i;

/** Deepest folder level searched for image/mask folder pairs. */
const MAX_PAIR_DEPTH = 8;

/** An image folder and its mask folder, side by side in `dir`. */
interface FolderPair {
  dir: string;
  images: string;
  masks: string;
}

const subdirs = (dir: string): string[] =>
  fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith("."))
    .map((d) => d.name)
    .sort(compareIds);

/**
 * The image and mask folders among `names` (one folder's subfolders): the ones named (flags: exact names),
 * else a mask-named folder and an image-named one, or the one other folder that is not a held-out one.
 */
function pairAmong(
  names: string[],
  imagesName?: string,
  masksName?: string,
): { images: string; masks: string } | null {
  const masks =
    masksName !== undefined
      ? names.find((d) => d === masksName)
      : names.find((d) => MASK_DIR_NAMES.includes(d.toLowerCase()));
  if (!masks) return null;
  const others = names.filter((d) => d !== masks);
  const plain = others.filter((d) => !HELD_OUT.test(d));
  const images =
    imagesName !== undefined
      ? others.find((d) => d === imagesName)
      : (others.find((d) => IMAGE_DIR_NAMES.includes(d.toLowerCase())) ??
        (plain.length === 1 ? plain[0] : undefined));
  return images ? { images, masks } : null;
}

/**
 * Every image/mask folder pair below `input` at any depth (BUSI's `<class>/images` + `<class>/mask`), in
 * path order; the pair's own folders are not searched further.
 */
function findPairs(input: string, imagesName?: string, masksName?: string): FolderPair[] {
  const out: FolderPair[] = [];
  const walk = (dir: string, depth: number): void => {
    const names = subdirs(dir);
    const p = pairAmong(names, imagesName, masksName);
    if (p) out.push({ dir, images: path.join(dir, p.images), masks: path.join(dir, p.masks) });
    if (depth >= MAX_PAIR_DEPTH) return;
    for (const n of names) if (!p || (n !== p.images && n !== p.masks)) walk(path.join(dir, n), depth + 1);
  };
  walk(input, 0);
  return out;
}

/** The held-out folder a file lies in (its path below `input` up to the first held-out name), or null. */
function heldOutFolder(input: string, file: string): string | null {
  const parts = path.relative(input, file).split(path.sep).slice(0, -1);
  const k = parts.findIndex((p) => HELD_OUT.test(p));
  return k < 0 ? null : parts.slice(0, k + 1).join("/");
}

const isInside = (file: string, dir: string): boolean => {
  const r = path.relative(dir, file);
  return r !== "" && !r.startsWith("..") && !path.isAbsolute(r);
};

/** Images paired with their masks as a layout found them (absolute paths), before ids and groups. */
interface Pairing {
  paired: { image: string; masks: string[] }[];
  /** Images without a mask. */
  lonely: string[];
  /** Masks without an image. */
  orphans: string[];
}

/**
 * Sets the set's own test/ and val/ folders apart and says what each holds; only when something outside
 * them remains to train on (`--input data/test` trains on it as any other folder).
 */
function setAsideHeldOut(input: string, p: Pairing): { kept: Pairing; warnings: string[] } {
  const held = (f: string): string | null => heldOutFolder(input, f);
  if (!p.paired.some((x) => held(x.image) === null)) return { kept: p, warnings: [] };
  const folders = new Map<string, { images: number; withMasks: number }>();
  const count = (file: string, withMasks: boolean): void => {
    const h = held(file);
    if (h === null) return;
    const c = folders.get(h) ?? { images: 0, withMasks: 0 };
    c.images++;
    if (withMasks) c.withMasks++;
    folders.set(h, c);
  };
  for (const x of p.paired) count(x.image, true);
  for (const f of p.lonely) count(f, false);
  const warnings = [...folders.keys()].sort(compareIds).map((h) => {
    const { images, withMasks } = folders.get(h)!;
    return withMasks === 0
      ? `${h}/: ${images} images without masks — not used for training; predict them with \`nerveseg predict\``
      : `${h}/: ${images === withMasks ? `${images} images with masks` : `${images} images, ${withMasks} with masks`} — not used for training; evaluate on it with \`nerveseg evaluate\``;
  });
  const kept: Pairing = {
    paired: p.paired.filter((x) => held(x.image) === null),
    lonely: p.lonely.filter((f) => held(f) === null),
    orphans: p.orphans.filter((f) => held(f) === null),
  };
  return { kept, warnings };
}

/** Reads a data set's names in its layout: pairs, labels, groups, and the problems found. */
export function scanLayout(input: string, opts: LayoutOptions = {}): ScannedLayout {
  const layout = detectLayout(input, opts);
  const suffixes = opts.maskSuffixes ?? DEFAULT_MASK_SUFFIXES;
  let scanned: ScannedLayout;
  if (layout === "kaggle") scanned = scanKaggle(input, opts);
  else if (layout === "folders") scanned = scanFolders(input, opts, suffixes);
  else if (layout === "side-by-side") scanned = scanSideBySide(input, opts, suffixes);
  else scanned = scanCsv(input, opts);
  if (scanned.train.length === 0 && scanned.problems.length === 0)
    throw fileError(input, `no images with masks found (${layout} layout)`);
  return scanned;
}

function scanKaggle(input: string, opts: LayoutOptions): ScannedLayout {
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
      folder: null,
      label: null,
    });
  }
  const test: ScannedLayout["test"] = [];
  const testDir = path.join(input, "test");
  let testMasks = 0;
  if (fs.existsSync(testDir))
    for (const f of fs
      .readdirSync(testDir)
      .filter((f) => !f.startsWith("."))
      .sort()) {
      const m = TEST_IMAGE.exec(f);
      if (TEST_MASK.test(f)) testMasks++;
      else if (!m)
        problems.push({ file: path.join(testDir, f), reason: "unexpected file name (want <n>.tif)" });
      else test.push({ id: m[1], image: path.join(testDir, f) });
    }
  const byId = (a: { id: string }, b: { id: string }) => compareIds(a.id, b.id);
  const kaggleRule = "Kaggle subject (<subject>_<n>)";
  const { groupRule, warnings } = assignGroups(train, { ...opts, given: kaggleRule, nameRule: kaggleRule });
  if (testMasks > 0)
    warnings.push(
      `test/: ${testMasks} mask file(s) beside its ${test.length} images — read as the unlabelled test set; the masks were not used (evaluate on them with \`nerveseg evaluate\`)`,
    );
  return {
    layout: "kaggle",
    root: dir,
    train: train.sort(byId),
    test: test.sort(byId),
    groupRule,
    problems,
    warnings,
  };
}

/** The subfolder of a path relative to the image root, or null at the root. */
const folderOf = (rel: string): string | null => {
  const dir = path.dirname(rel);
  return dir === "." || dir === "" ? null : dir;
};

/** The image/mask folder pairs: as flags name them (paths), else searched for at any depth. */
function folderPairs(input: string, opts: LayoutOptions): { pairs: FolderPair[]; searched: boolean } {
  const isPath = (v: string | undefined): boolean =>
    v !== undefined && (path.isAbsolute(v) || v.includes("/") || v.includes(path.sep));
  if (isPath(opts.imagesDir) || isPath(opts.masksDir)) {
    // A path names the folder itself (relative to the input); the other is found beside the input's.
    const found = opts.imagesDir && opts.masksDir ? null : pairAmong(subdirs(input));
    const resolve = (d: string | undefined, fallback: string | undefined, what: string): string => {
      const name = d ?? fallback;
      if (!name)
        throw fileError(input, `folders layout: cannot tell the ${what} folder; name it with --${what}-dir`);
      const full = path.isAbsolute(name) ? name : path.join(input, name);
      if (!fs.existsSync(full) || !fs.statSync(full).isDirectory())
        throw fileError(full, `${what} folder not found`);
      return full;
    };
    const images = resolve(opts.imagesDir, found?.images, "images");
    const masks = resolve(opts.masksDir, found?.masks, "masks");
    return { pairs: [{ dir: input, images, masks }], searched: false };
  }
  const pairs = findPairs(input, opts.imagesDir, opts.masksDir);
  if (pairs.length > 0) return { pairs, searched: true };
  if (opts.imagesDir !== undefined || opts.masksDir !== undefined)
    throw fileError(
      input,
      `no folder named ${opts.imagesDir ?? "images (or image, imgs, frames)"} with a folder named ${opts.masksDir ?? "masks (or mask, labels, gt, ...)"} beside it, at any depth`,
    );
  throw fileError(
    input,
    "folders layout: no image folder with a mask folder beside it (images/ + masks/, ...) at any depth; name them with --images-dir/--masks-dir",
  );
}

function scanFolders(input: string, opts: LayoutOptions, suffixes: readonly string[]): ScannedLayout {
  const { pairs, searched } = folderPairs(input, opts);
  const pairOf = new Map<string, FolderPair>();
  const all: Pairing = { paired: [], lonely: [], orphans: [] };
  for (const p of pairs) {
    const masksByKey = new Map<string, string[]>();
    for (const rel of listTree(p.masks)) {
      const stem = stemOf(rel);
      const key = maskBase(stem, suffixes) ?? stem;
      masksByKey.set(key, [...(masksByKey.get(key) ?? []), path.join(p.masks, rel)]);
    }
    const used = new Set<string>();
    for (const rel of listTree(p.images)) {
      const image = path.join(p.images, rel);
      pairOf.set(image, p);
      const masks = masksByKey.get(stemOf(rel));
      if (!masks) all.lonely.push(image);
      else {
        used.add(stemOf(rel));
        all.paired.push({ image, masks });
      }
    }
    for (const [key, files] of masksByKey)
      if (!used.has(key))
        for (const f of files) {
          pairOf.set(f, p);
          all.orphans.push(f);
        }
  }
  // Images outside every pair: a held-out folder's are counted with it (paired side by side, as a test/
  // folder beside images/ and masks/ often is), the rest are named as not read.
  const covered = (f: string): boolean => pairs.some((p) => isInside(f, p.images) || isInside(f, p.masks));
  const outside = searched
    ? listTree(input)
        .filter((rel) => IMAGE_EXTS.includes(ext(rel)))
        .filter((rel) => !covered(path.join(input, rel)))
    : [];
  const outsideHeld = outside.filter((rel) => heldOutFolder(input, path.join(input, rel)) !== null);
  const loose = pairSideBySide(input, outsideHeld, suffixes);
  const { kept, warnings } = setAsideHeldOut(input, {
    paired: [...all.paired, ...loose.paired],
    lonely: [...all.lonely, ...loose.lonely],
    orphans: all.orphans,
  });
  const notRead = outside.filter((rel) => heldOutFolder(input, path.join(input, rel)) === null);
  if (notRead.length > 0)
    warnings.push(
      `${notRead.length} image file(s) outside the image/mask folders were not read, e.g. ${notRead[0]}`,
    );
  // Ids and folders: below the image folder for one pair (as before); below the pairs' common folder for
  // several, with the image folder kept in the id (the path \`nerveseg predict\` gives it) and left out of
  // the folder (`benign/images/x` is of folder `benign`).
  const keptPairs = pairs.filter((p) =>
    [...kept.paired.map((x) => x.image), ...kept.lonely].some((f) => pairOf.get(f) === p),
  );
  const single = keptPairs.length <= 1;
  const root = single ? (keptPairs[0] ?? pairs[0]).images : commonFolder(keptPairs.map((p) => p.dir));
  const train: LayoutEntry[] = kept.paired.map(({ image, masks }) => {
    const p = pairOf.get(image)!;
    const inner = path.dirname(path.relative(p.images, image));
    const folder = single ? inner : path.join(path.relative(root, p.dir), inner);
    return {
      id: stemOf(path.relative(root, image)),
      image,
      masks,
      group: "",
      folder: folder === "." || folder === "" ? null : folder,
      label: null,
    };
  });
  const problems: ScannedLayout["problems"] = [
    ...kept.lonely.map((f) => ({ file: f, reason: `no mask for it in ${pairOf.get(f)!.masks}` })),
    ...kept.orphans.map((f) => ({ file: f, reason: `mask without its image in ${pairOf.get(f)!.images}` })),
  ];
  const groups = assignGroups(train, opts);
  return {
    layout: "folders",
    root,
    train,
    test: [],
    groupRule: groups.groupRule,
    problems,
    warnings: [...warnings, ...groups.warnings],
  };
}

/** The deepest folder holding all of `dirs`. */
function commonFolder(dirs: string[]): string {
  let common = dirs[0];
  for (const d of dirs) while (d !== common && !isInside(d, common)) common = path.dirname(common);
  return common;
}

/** X.png beside X_mask.png (and X_mask_1.png, ...): `files` relative to `input`. */
function pairSideBySide(input: string, files: string[], suffixes: readonly string[]): Pairing {
  const byStem = new Map(files.map((rel) => [stemOf(rel), rel]));
  const masksOf = new Map<string, string[]>();
  const out: Pairing = { paired: [], lonely: [], orphans: [] };
  for (const rel of files) {
    const base = maskBase(stemOf(rel), suffixes);
    if (base === null) continue;
    if (!byStem.has(base) || maskBase(base, suffixes) !== null) {
      // X_mask.png whose X is missing; a mask of a mask is not a thing.
      if (!byStem.has(base)) out.orphans.push(path.join(input, rel));
      continue;
    }
    masksOf.set(base, [...(masksOf.get(base) ?? []), path.join(input, rel)]);
  }
  const orphans = new Set(out.orphans);
  for (const rel of files) {
    const stem = stemOf(rel);
    if (maskBase(stem, suffixes) !== null && byStem.has(maskBase(stem, suffixes)!)) continue;
    if (orphans.has(path.join(input, rel))) continue;
    const masks = masksOf.get(stem);
    if (!masks) out.lonely.push(path.join(input, rel));
    else out.paired.push({ image: path.join(input, rel), masks });
  }
  return out;
}

function scanSideBySide(input: string, opts: LayoutOptions, suffixes: readonly string[]): ScannedLayout {
  const files = listTree(input);
  const { kept, warnings } = setAsideHeldOut(input, pairSideBySide(input, files, suffixes));
  const problems: ScannedLayout["problems"] = [
    ...kept.orphans.map((f) => ({ file: f, reason: "mask without its image" })),
    ...kept.lonely.map((f) => ({
      file: f,
      reason: `no mask beside it (want ${path.basename(stemOf(f))}${suffixes[0]}.<ext>)`,
    })),
  ];
  if (kept.paired.length === 0 && files.length > 0 && problems.length >= files.length)
    throw fileError(
      input,
      `no image has a mask beside it (mask suffixes tried: ${suffixes.join(", ")}); name the layout with --layout or the folders with --images-dir/--masks-dir`,
    );
  const train: LayoutEntry[] = kept.paired.map(({ image, masks }) => {
    const rel = path.relative(input, image);
    return { id: stemOf(rel), image, masks, group: "", folder: folderOf(rel), label: null };
  });
  const groups = assignGroups(train, opts);
  return {
    layout: "side-by-side",
    root: input,
    train,
    test: [],
    groupRule: groups.groupRule,
    problems,
    warnings: [...warnings, ...groups.warnings],
  };
}

function scanCsv(file: string, opts: LayoutOptions): ScannedLayout {
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
        folder: folderOf(path.normalize(rel)),
        label: null,
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
  const { groupRule, warnings } = assignGroups(train, {
    ...opts,
    given: cg >= 0 ? "the CSV's group column" : undefined,
  });
  return { layout: "csv", root: dir, train, test: [], groupRule, problems: [], warnings };
}
