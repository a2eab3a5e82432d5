/**
 * Masks as the viewer holds them: runs (io/rle.ts parseRle's form: 0-based column-major start, length, ...)
 * at the mask's own size, a few KiB a frame where the 0/1 mask would be its whole size, so thousands fit.
 */

/** A mask as runs at its own size. */
export interface MaskRuns {
  runs: Uint32Array;
  width: number;
  height: number;
  /** Its file, or `file: line N`, for messages. */
  where: string;
}

/** A 0/nonzero row-major mask as runs. */
export function maskToRuns(mask: Uint8Array, width: number, height: number): Uint32Array {
  const runs: number[] = [];
  let start = -1;
  let k = 0;
  for (let x = 0; x < width; x++)
    for (let i = x, y = 0; y < height; y++, i += width, k++) {
      if (mask[i] !== 0) {
        if (start < 0) start = k;
      } else if (start >= 0) {
        runs.push(start, k - start);
        start = -1;
      }
    }
  if (start >= 0) runs.push(start, k - start);
  return Uint32Array.from(runs);
}
