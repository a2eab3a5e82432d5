/**
 * Sets of masks by image id, as Kaggle RLE text: a Kaggle CSV (`subject,img,pixels` as train_masks.csv, or
 * `img,pixels` as a submission) or a folder of `*_mask.tif`. Every id and RLE is checked on loading.
 */
import fs from "node:fs";
import path from "node:path";
import { UserError, fileError } from "../core/errors.js";
import { readCsv } from "./csv.js";
import { compareIds } from "./ids.js";
import { encodeRle, parseRle } from "./rle.js";
import { readTiff } from "./tiff.js";

/** Masks by image id (RLE text), with where each came from for error messages. */
export interface MaskSet {
  /** The CSV file or mask folder. */
  source: string;
  /** id → RLE, in the source's order. */
  masks: Map<string, string>;
  /** id → "file: line N" or the mask file's path. */
  where: Map<string, string>;
}

/** Image id from a mask or image file name: "1_14_mask.tif" → "1_14", "7.tif" → "7". */
export function maskIdFromFile(file: string): string {
  return path
    .basename(file)
    .replace(/\.tiff?$/i, "")
    .replace(/_mask$/i, "");
}

/**
 * Loads masks from a Kaggle CSV: `subject,img,pixels` (ids "subject_img", as train_masks.csv) or
 * `img,pixels` (a submission). Checks ids (non-empty, unique) and every RLE against the image size.
 */
export function loadMaskCsv(file: string, width: number, height: number): MaskSet {
  const table = readCsv(file);
  const header = table.header.map((h) => h.toLowerCase()).join(",");
  const hasSubject = header === "subject,img,pixels";
  if (!hasSubject && header !== "img,pixels") {
    throw fileError(
      file,
      `header is "${table.header.join(",")}", expected "subject,img,pixels" or "img,pixels"`,
    );
  }
  const masks = new Map<string, string>();
  const where = new Map<string, string>();
  for (const { line, fields } of table.rows) {
    const loc = `${file}: line ${line}`;
    const idParts = hasSubject ? fields.slice(0, 2) : fields.slice(0, 1);
    for (const p of idParts) {
      if (!/^[^\s/\\]+$/.test(p)) throw new UserError(`${loc}: bad image id "${p}"`);
    }
    const id = idParts.join("_");
    const rle = fields[fields.length - 1]!;
    const first = where.get(id);
    if (first !== undefined) throw new UserError(`${loc}: duplicate image id ${id} (first at ${first})`);
    parseRle(rle, width, height, loc);
    masks.set(id, rle);
    where.set(id, loc);
  }
  return { source: file, masks, where };
}

/** Loads every `*_mask.tif` in a folder as RLE (ids from the file names), in natural id order. */
export function loadMaskDir(dir: string, width: number, height: number): MaskSet {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => /_mask\.tiff?$/i.test(n));
  } catch (e) {
    throw fileError(dir, `cannot read folder (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  if (names.length === 0) throw fileError(dir, "no *_mask.tif files in this folder");
  const byId = names.map((n) => ({ id: maskIdFromFile(n), file: path.join(dir, n) }));
  byId.sort((a, b) => compareIds(a.id, b.id));
  const masks = new Map<string, string>();
  const where = new Map<string, string>();
  for (const { id, file } of byId) {
    if (masks.has(id)) throw fileError(file, `duplicate image id ${id} (also ${where.get(id)})`);
    const img = readTiff(file);
    if (img.width !== width || img.height !== height) {
      throw fileError(file, `mask is ${img.width}x${img.height}, expected ${width}x${height}`);
    }
    masks.set(id, encodeRle(img.data, width, height));
    where.set(id, file);
  }
  return { source: dir, masks, where };
}

/** Truth from a CSV (either Kaggle layout) or a folder of `*_mask.tif`. */
export function loadTruth(fileOrDir: string, width: number, height: number): MaskSet {
  const stat = fs.statSync(fileOrDir, { throwIfNoEntry: false });
  if (!stat) throw fileError(fileOrDir, "no such file or folder");
  return stat.isDirectory() ? loadMaskDir(fileOrDir, width, height) : loadMaskCsv(fileOrDir, width, height);
}

/** A prediction CSV (`img,pixels`; `subject,img,pixels` is accepted too). */
export function loadPredictionCsv(file: string, width: number, height: number): MaskSet {
  return loadMaskCsv(file, width, height);
}
