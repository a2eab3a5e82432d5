// File names of a data set: which are images, which are masks of which image (by suffix), and the image
// files below a folder. Shared by the layouts (layout.ts, pairing.ts) and the command-line inputs (inputs.ts).
import fs from "node:fs";
import path from "node:path";
import { compareIds } from "../io/ids.js";

/** Extensions read as images (DICOM files may also have none: see isImageName). */
export const IMAGE_EXTS = [".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".dcm", ".dicom"];

/** Mask suffixes tried in this order (longest match wins); `--mask-suffix` replaces the list. */
export const DEFAULT_MASK_SUFFIXES = ["_mask", "_seg", "_gt", "_label", "_Annotation"];

export const ext = (f: string): string => path.extname(f).toLowerCase();
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
