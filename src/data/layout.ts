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
import { DEFAULT_MASK_SUFFIXES, ext, IMAGE_EXTS, listTree, maskBase, stemOf } from "./names.js";
import {
  commonFolder,
  findPairs,
  folderPairs,
  heldOutFolder,
  isInside,
  pairSideBySide,
  setAsideHeldOut,
  type FolderPair,
  type Pairing,
} from "./pairing.js";

export { DEFAULT_MASK_SUFFIXES, IMAGE_EXTS, isImageName, listTree, maskBase, stemOf } from "./names.js";

export const LAYOUTS = ["kaggle", "folders", "side-by-side", "csv"] as const;
export type LayoutKind = (typeof LAYOUTS)[number];

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
  const aside = setAsideHeldOut(input, {
    paired: [...all.paired, ...loose.paired],
    lonely: [...all.lonely, ...loose.lonely],
    orphans: all.orphans,
  });
  const warnings = aside.warnings;
  // The loose files were read for the count only; unless their folder was set apart, they are not read.
  const kept: Pairing = {
    paired: aside.kept.paired.filter((x) => pairOf.has(x.image)),
    lonely: aside.kept.lonely.filter((f) => pairOf.has(f)),
    orphans: aside.kept.orphans,
  };
  const heldSet = new Set(outsideHeld);
  const notRead = aside.apart ? outside.filter((rel) => !heldSet.has(rel)) : outside;
  if (notRead.length > 0)
    warnings.push(
      `${notRead.length} image file(s) outside the image/mask folders were not read, e.g. ${notRead[0]}`,
    );
  // Ids and folders: below the image folder for one pair (as before); below the pairs' common folder for
  // several, with the image folder kept in the id (the path `nerveseg predict` gives it) and left out of
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
  // A repeated image,mask row names nothing new: read once, and said once (not decoded again per row).
  const rows = new Set<string>();
  let repeated = 0;
  let firstRepeat = 0;
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
    const mask = row.fields[cm] === "" ? "" : path.resolve(dir, row.fields[cm]);
    const key = `${image}\0${mask}`;
    if (rows.has(key)) {
      repeated++;
      firstRepeat ||= row.line;
    } else {
      rows.add(key);
      if (mask !== "") e.masks.push(mask);
    }
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
  if (repeated > 0)
    warnings.unshift(
      `${file}: ${repeated} repeated row(s) (the same image and mask, first at line ${firstRepeat}) read once`,
    );
  return { layout: "csv", root: dir, train, test: [], groupRule, problems: [], warnings };
}
