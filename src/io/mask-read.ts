/**
 * The mask meaning of a decoded image file (see image-read.ts): which pixels are foreground.
 *
 * Without a label (a binary mask):
 * - lossless files: foreground = non-zero. For grey frames the raw stored value is tested (so 16-bit masks
 *   holding 0/1, 1-bit masks, and DICOM MONOCHROME1 masks work: display conversions cannot flip or erase a
 *   value); for palette and colour frames the luma of the shown colour (black = background, whatever its
 *   palette index).
 * - lossy files (JPEG, JPEG-compressed TIFF/DICOM, DICOM flagged lossy): foreground = luma > 127, more than
 *   half the range, as compression smears 0 and 255 into nearby values.
 * - Refused, as plainly not a mask: a frame whose 8-bit image has more than MASK_MAX_GREY_LEVELS (16) distinct
 *   values AND more than MASK_MAX_MID_GREY_SHARE (10%) of its pixels in the mid-grey band 32..223. Binary masks
 *   (two values), label maps with few labels, anti-aliased or JPEG-smeared mask edges all pass; an ultrasound
 *   frame or a photo does not. A label map with many labels spread over the grey range is refused too: pass
 *   `label` to pick one of its values.
 * With `label: N` (a label map): foreground = raw value N (palette index for palette files, stored grey value
 * otherwise, 16-bit for 16-bit files). Refused for lossy files (their values are not exact), for colour files
 * (no single value per pixel), and for N outside the file's value range.
 */
import { fileError } from "../core/errors.js";
import type { DecodedFile, DecodedFrame } from "./image.js";

export interface MaskOptions {
  /** Pick one value of a label map as the foreground (palette index or raw grey value). */
  label?: number;
}

/** More distinct grey levels than this (together with the mid-grey share) mean "not a mask". */
export const MASK_MAX_GREY_LEVELS = 16;
/** More than this share of pixels in 32..223 (together with the level count) means "not a mask". */
export const MASK_MAX_MID_GREY_SHARE = 0.1;
const MID_GREY_LOW = 32;
const MID_GREY_HIGH = 223;

/** Foreground as 0/1 per pixel for one frame of a decoded file; fileError when the frame is not a mask. */
export function maskFromDecoded(d: DecodedFile, frame: DecodedFrame, opts: MaskOptions = {}): Uint8Array {
  const hash = frame.name.lastIndexOf("#");
  const where = d.frameCount > 1 && hash >= 0 ? `${d.file}${frame.name.slice(hash)}` : d.file;
  const fail = (problem: string): never => {
    throw fileError(where, problem);
  };
  const img = frame.image.data;
  const n = img.length;
  const out = new Uint8Array(n);

  if (opts.label !== undefined) {
    const label = opts.label;
    if (d.lossy)
      fail(
        `label ${label} cannot be picked from a lossy (${d.format.toUpperCase()}) file: its values are not exact`,
      );
    const labels = frame.labels;
    if (!labels)
      return fail(`label ${label} needs a grey or palette image; this one is ${describe(d, frame)}`);
    const typeMax = labels instanceof Uint16Array ? 0xffff : 0xff;
    const max = Math.min(typeMax, 2 ** Math.max(1, Math.min(16, d.bitDepth)) - 1);
    if (!Number.isInteger(label) || label < 0 || label > max)
      fail(`label ${label} is out of range: this ${d.bitDepth}-bit file holds values 0..${max}`);
    for (let i = 0; i < n; i++) out[i] = labels[i] === label ? 1 : 0;
    return out;
  }

  const stats = greyStats(img);
  if (stats.levels > MASK_MAX_GREY_LEVELS && stats.midShare > MASK_MAX_MID_GREY_SHARE)
    fail(
      `does not look like a mask: ${stats.levels} grey levels and ${(100 * stats.midShare).toFixed(0)}% of pixels mid-grey (${MID_GREY_LOW}..${MID_GREY_HIGH}); ` +
        "a mask is 0 for background and non-zero for the structure (pick one value of a label map with a label)",
    );
  if (d.lossy) {
    for (let i = 0; i < n; i++) out[i] = img[i]! > 127 ? 1 : 0;
  } else if (frame.colour === "grey" && frame.labels) {
    const labels = frame.labels;
    for (let i = 0; i < n; i++) out[i] = labels[i] !== 0 ? 1 : 0;
  } else {
    for (let i = 0; i < n; i++) out[i] = img[i] !== 0 ? 1 : 0;
  }
  return out;
}

/**
 * The label values a mask holds: the distinct raw values (palette indices, stored grey values) of its
 * foreground pixels as the binary reading sees them (grey: non-zero; palette: a colour other than black),
 * ascending. Counted from the decoded file, so a label map's labels are known without a second decode.
 * Empty when there are none, or when the file has no exact values to count: lossy or colour files, or more
 * than `limit` values (for a mask read as binary: anti-aliased edges rather than labels).
 */
export function maskValues(d: DecodedFile, frame: DecodedFrame, limit = MASK_MAX_GREY_LEVELS): number[] {
  const labels = frame.labels;
  if (d.lossy || !labels || frame.colour === "rgb") return [];
  const palette = frame.colour === "palette";
  const img = frame.image.data;
  const seen = new Uint8Array(labels instanceof Uint16Array ? 0x10000 : 0x100);
  const values: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i]!;
    if (seen[v] || (palette ? img[i] === 0 : v === 0)) continue;
    seen[v] = 1;
    values.push(v);
    if (values.length > limit) return [];
  }
  return values.sort((a, b) => a - b);
}

/** Distinct 8-bit levels and the share of pixels in the mid-grey band. */
export function greyStats(img: Uint8Array): { levels: number; midShare: number } {
  const hist = new Uint32Array(256);
  for (let i = 0; i < img.length; i++) hist[img[i]!]!++;
  let levels = 0;
  let mid = 0;
  for (let v = 0; v < 256; v++) {
    if (hist[v]! > 0) levels++;
    if (v >= MID_GREY_LOW && v <= MID_GREY_HIGH) mid += hist[v]!;
  }
  return { levels, midShare: img.length === 0 ? 0 : mid / img.length };
}

function describe(d: DecodedFile, frame: DecodedFrame): string {
  if (frame.colour === "rgb") return `a colour ${d.format.toUpperCase()}`;
  return `a signed ${d.format.toUpperCase()}`;
}
