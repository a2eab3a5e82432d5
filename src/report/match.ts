/*
 * Pairing mask files and prediction rows with listed images by name, for the viewer and the overlay
 * folder form: by the image's file path, then by its id (its path below its folder, without extension),
 * then by stem (the id's last part) when exactly one image has that stem. A stem shared by several images,
 * or one image claimed twice, is an error naming both. `evaluate` pairs by the same rule in src/metric;
 * this one is self-contained so that the two can be folded into one.
 */
import fs from "node:fs";
import path from "node:path";
import { fileError } from "../core/errors.js";
import { listImageInputs } from "../data/inputs.js";
import { DEFAULT_MASK_SUFFIXES, maskBase } from "../data/layout.js";

/** An image as listed: its id (unique) and its file. */
export interface ListedImage {
  id: string;
  file: string;
}

/** A mask file or prediction row to pair: its key (an id, maybe `<id>#k` for frame k), where it is from. */
export interface Keyed<T> {
  key: string;
  /** The file, or `file: line N`, named in messages. */
  where: string;
  /** The image file it names, when it names one (a predictions CSV's `file` column). */
  file?: string;
  value: T;
}

/** What was paired: image id → frame ("" for the file as a whole, "#k" for its frame k) → the item. */
export interface Matched<T> {
  byImage: Map<string, Map<string, Keyed<T>>>;
  /** Items that name no listed image. */
  unmatched: Keyed<T>[];
}

/** The key without a mask suffix ("x_mask" → "x"), or null when it has none. */
function unsuffixed(key: string, suffixes: readonly string[]): string | null {
  const base = maskBase(path.basename(key), suffixes);
  if (base === null) return null;
  const dir = path.dirname(key);
  return dir === "." ? base : `${dir}/${base}`;
}

/** Pairs items with images (see the file comment); `suffixes` are stripped from keys as a second try. */
export function matchToImages<T>(
  images: readonly ListedImage[],
  items: readonly Keyed<T>[],
  suffixes: readonly string[] = DEFAULT_MASK_SUFFIXES,
): Matched<T> {
  const byFile = new Map(images.map((im) => [path.resolve(im.file), im]));
  const byId = new Map(images.map((im) => [im.id, im]));
  const byStem = new Map<string, ListedImage[]>();
  for (const im of images) {
    const stem = path.basename(im.id);
    byStem.set(stem, [...(byStem.get(stem) ?? []), im]);
  }
  const out: Matched<T> = { byImage: new Map(), unmatched: [] };
  for (const item of items) {
    // The key as it is, then as frame k of `<id>#k`; each as given, then without a mask suffix.
    const tries: { key: string; frame: string }[] = [{ key: item.key, frame: "" }];
    const multi = /^(.+)(#\d+)$/.exec(item.key);
    if (multi) tries.push({ key: multi[1], frame: multi[2] });
    for (const t of [...tries]) {
      const base = unsuffixed(t.key, suffixes);
      if (base !== null) tries.push({ key: base, frame: t.frame });
    }
    let found: { image: ListedImage; frame: string } | null = null;
    const named = item.file === undefined ? undefined : byFile.get(path.resolve(item.file));
    if (named) found = { image: named, frame: multi && !byId.has(item.key) ? multi[2] : "" };
    for (const t of tries) {
      if (found) break;
      const im = byId.get(t.key);
      if (im) found = { image: im, frame: t.frame };
    }
    for (const t of tries) {
      if (found) break;
      const same = byStem.get(path.basename(t.key)) ?? [];
      if (same.length > 1)
        throw fileError(
          item.where,
          `"${item.key}" matches both ${same[0].file} and ${same[1].file} by name; ` +
            "give it the image's path below its folder to tell them apart",
        );
      if (same.length === 1) found = { image: same[0], frame: t.frame };
    }
    if (!found) {
      out.unmatched.push(item);
      continue;
    }
    const slot = out.byImage.get(found.image.id) ?? new Map<string, Keyed<T>>();
    const twice = slot.get(found.frame);
    if (twice)
      throw fileError(
        item.where,
        `is for the same image as ${twice.where} (${found.image.file}${found.frame})`,
      );
    slot.set(found.frame, item);
    out.byImage.set(found.image.id, slot);
  }
  return out;
}

/**
 * The mask files of a folder, keyed by their path below it without extension: the files named like masks
 * (`X_mask.png`, see DEFAULT_MASK_SUFFIXES) when there are any, so that a folder of images beside their
 * masks gives its masks; else every image file (but never the images themselves: when `dir` is the image
 * folder `imagesDir`, only files named like masks). `nerveseg predict`'s output folder gives its masks/.
 */
export function maskFolderItems(dir: string, imagesDir?: string): Keyed<string>[] {
  const stat = fs.statSync(dir, { throwIfNoEntry: false });
  if (!stat?.isDirectory()) throw fileError(dir, "not found (want a folder of masks)");
  const sub = path.join(dir, "masks");
  const root = fs.existsSync(path.join(dir, "predictions.csv")) && fs.existsSync(sub) ? sub : dir;
  // listImageInputs with no suffixes lists every image file, masks included.
  const files = listImageInputs([root], []).files;
  const masks = files.filter((f) => maskBase(path.basename(f.id), DEFAULT_MASK_SUFFIXES) !== null);
  const same = imagesDir !== undefined && path.resolve(imagesDir) === path.resolve(dir);
  if (same && masks.length === 0)
    throw fileError(dir, `holds the images and no masks beside them (${DEFAULT_MASK_SUFFIXES[0]}.* files)`);
  return (masks.length > 0 ? masks : files).map((f) => ({
    key: f.id.split(path.sep).join("/"),
    where: f.file,
    value: f.file,
  }));
}
