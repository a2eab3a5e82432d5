/*
 * Finding a data set's pairs by their names: image/mask folder pairs at any depth (`images/` + `masks/`,
 * BUSI's `<class>/images/` + `<class>/mask/`), images beside their masks (`X.png` + `X_mask.png`), and the
 * set's own held-out folders (`test/`, `val/`), set apart and named rather than trained on. The layouts
 * (layout.ts) turn what is found here into entries with ids, labels and groups.
 */
import fs from "node:fs";
import path from "node:path";
import { fileError } from "../core/errors.js";
import { compareIds } from "../io/ids.js";
import { maskBase, stemOf } from "./names.js";

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
export interface FolderPair {
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
export function findPairs(input: string, imagesName?: string, masksName?: string): FolderPair[] {
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
export function heldOutFolder(input: string, file: string): string | null {
  const parts = path.relative(input, file).split(path.sep).slice(0, -1);
  const k = parts.findIndex((p) => HELD_OUT.test(p));
  return k < 0 ? null : parts.slice(0, k + 1).join("/");
}

export const isInside = (file: string, dir: string): boolean => {
  const r = path.relative(dir, file);
  return r !== "" && !r.startsWith("..") && !path.isAbsolute(r);
};

/** Images paired with their masks as a layout found them (absolute paths), before ids and groups. */
export interface Pairing {
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
export function setAsideHeldOut(
  input: string,
  p: Pairing,
): { kept: Pairing; warnings: string[]; apart: boolean } {
  const held = (f: string): string | null => heldOutFolder(input, f);
  if (!p.paired.some((x) => held(x.image) === null)) return { kept: p, warnings: [], apart: false };
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
  return { kept, warnings, apart: true };
}

/** The image/mask folder pairs: as flags name them (paths), else searched for at any depth. */
export function folderPairs(
  input: string,
  opts: { imagesDir?: string; masksDir?: string },
): { pairs: FolderPair[]; searched: boolean } {
  const isPath = (v: string | undefined): boolean =>
    v !== undefined && (path.isAbsolute(v) || v.includes("/") || v.includes(path.sep));
  if (isPath(opts.imagesDir) || isPath(opts.masksDir)) {
    // A path names one folder (relative to the input, or absolute); a flag left out is found among the
    // input's own subfolders, as before.
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

/** The deepest folder holding all of `dirs`. */
export function commonFolder(dirs: string[]): string {
  let common = dirs[0];
  for (const d of dirs) while (d !== common && !isInside(d, common)) common = path.dirname(common);
  return common;
}

/** X.png beside X_mask.png (and X_mask_1.png, ...): `files` relative to `input`. */
export function pairSideBySide(input: string, files: string[], suffixes: readonly string[]): Pairing {
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
