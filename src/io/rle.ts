/**
 * Kaggle run-length encoding: pixels are numbered from 1, top to bottom then left to right (column-major
 * over the height x width image); the text is space-separated "start length" pairs, "" for an empty mask.
 */
import { UserError } from "../core/errors.js";

/** Encodes a row-major mask (nonzero = on) as Kaggle RLE. */
export function encodeRle(mask: Uint8Array, width: number, height: number): string {
  if (mask.length !== width * height) {
    throw new Error(`encodeRle: mask has ${mask.length} pixels, expected ${width}x${height}`);
  }
  const parts: string[] = [];
  let runStart = -1; // 0-based column-major index of the open run, -1 when none
  let k = 0; // column-major index of (x, y)
  for (let x = 0; x < width; x++) {
    for (let i = x, y = 0; y < height; y++, i += width, k++) {
      if (mask[i] !== 0) {
        if (runStart < 0) runStart = k;
      } else if (runStart >= 0) {
        parts.push(`${runStart + 1} ${k - runStart}`);
        runStart = -1;
      }
    }
  }
  if (runStart >= 0) parts.push(`${runStart + 1} ${k - runStart}`);
  return parts.join(" ");
}

/**
 * Parses and validates Kaggle RLE into runs: [start0, len0, start1, len1, ...] with 0-based column-major
 * starts, sorted and non-overlapping (touching runs are allowed). `where` names the source in errors,
 * e.g. "train_masks.csv line 17".
 */
export function parseRle(rle: string, width: number, height: number, where = "RLE"): Uint32Array {
  const text = rle.trim();
  if (text === "") return new Uint32Array(0);
  const tokens = text.split(/\s+/);
  const fail = (problem: string): never => {
    throw new UserError(`${where}: ${problem}`);
  };
  if (tokens.length % 2 !== 0) fail(`odd number of values (${tokens.length}) in the run-length encoding`);
  const total = width * height;
  const runs = new Uint32Array(tokens.length);
  let end = 0; // one past the last pixel of the previous run (0-based)
  for (let i = 0; i < tokens.length; i += 2) {
    const a = tokens[i]!;
    const b = tokens[i + 1]!;
    if (!/^\d{1,15}$/.test(a) || !/^\d{1,15}$/.test(b)) {
      fail(`run ${i / 2 + 1} ("${a} ${b}") is not two whole numbers`);
    }
    const start = Number(a);
    const len = Number(b);
    if (start < 1) fail(`run ${i / 2 + 1} starts at ${start} (pixels are numbered from 1)`);
    if (len < 1) fail(`run ${i / 2 + 1} has length ${len}`);
    if (start - 1 + len > total) {
      fail(
        `run ${i / 2 + 1} (${start} ${len}) ends past the last pixel ${total} of a ${width}x${height} image`,
      );
    }
    if (start - 1 < end) fail(`run ${i / 2 + 1} (${start} ${len}) overlaps or precedes the run before it`);
    runs[i] = start - 1;
    runs[i + 1] = len;
    end = start - 1 + len;
  }
  return runs;
}

/** Decodes Kaggle RLE to a row-major mask of 0 and 255. */
export function decodeRle(rle: string, width: number, height: number, where?: string): Uint8Array {
  return runsToMask(parseRle(rle, width, height, where), width, height);
}

/** Paints parsed runs (see parseRle) into a row-major 0/255 mask. */
export function runsToMask(runs: Uint32Array, width: number, height: number): Uint8Array {
  const mask = new Uint8Array(width * height);
  for (let r = 0; r < runs.length; r += 2) {
    const end = runs[r]! + runs[r + 1]!;
    for (let k = runs[r]!; k < end; k++) {
      const x = (k / height) | 0;
      mask[(k - x * height) * width + x] = 255;
    }
  }
  return mask;
}

/** Number of pixels the runs cover. */
export function runsArea(runs: Uint32Array): number {
  let n = 0;
  for (let r = 1; r < runs.length; r += 2) n += runs[r]!;
  return n;
}

/** Pixels covered by both run lists (each sorted and non-overlapping), without decoding either. */
export function runsIntersection(a: Uint32Array, b: Uint32Array): number {
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < a.length && j < b.length) {
    const aStart = a[i]!;
    const aEnd = aStart + a[i + 1]!;
    const bStart = b[j]!;
    const bEnd = bStart + b[j + 1]!;
    const lo = aStart > bStart ? aStart : bStart;
    const hi = aEnd < bEnd ? aEnd : bEnd;
    if (hi > lo) n += hi - lo;
    if (aEnd <= bEnd) i += 2;
    else j += 2;
  }
  return n;
}
