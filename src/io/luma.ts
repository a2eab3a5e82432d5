/**
 * Sample conversions shared by the image readers (image-read.ts, bmp.ts, gif.ts, png-palette.ts, dicom.ts).
 *
 * Colour → grey is ITU-R BT.601 luma, Y = 0.299 R + 0.587 G + 0.114 B, rounded half up, computed in integers
 * as floor((299 R + 587 G + 114 B + 500) / 1000) so that grey (R = G = B) maps to itself exactly.
 * 16-bit → 8-bit is round(v / 257), which maps 0..65535 onto 0..255 over the full range (65535 → 255).
 */

/** How any colour file becomes the grey a model sees (stated in exported models, so a deployment matches). */
export const GREY_RULE =
  "BT.601 luma Y = 0.299 R + 0.587 G + 0.114 B, rounded half up (palette entries alike; alpha ignored); " +
  "16-bit samples round(v / 257); no colour management, no EXIF rotation";

/** BT.601 luma of one 8-bit (or 16-bit) RGB triple, rounded; same scale as the input. */
export function luma601(r: number, g: number, b: number): number {
  return Math.floor((299 * r + 587 * g + 114 * b + 500) / 1000);
}

/** A 16-bit sample to 8 bits over the full range: round(v / 257). */
export function to8bit(v: number): number {
  return Math.floor((v * 2 + 257) / 514);
}

/** Luma of packed RGB samples (3 per pixel), 8-bit or 16-bit; the result is 8-bit either way. */
export function lumaOfRgb(rgb: Uint8Array | Uint16Array, nPixels: number): Uint8Array {
  const out = new Uint8Array(nPixels);
  const wide = rgb instanceof Uint16Array;
  for (let i = 0, j = 0; i < nPixels; i++, j += 3) {
    const y = luma601(rgb[j]!, rgb[j + 1]!, rgb[j + 2]!);
    out[i] = wide ? to8bit(y) : y;
  }
  return out;
}

/** The luma of each entry of a palette held as packed RGB triples. */
export function paletteLuma(rgb: Uint8Array, nColours: number): Uint8Array {
  return lumaOfRgb(rgb.subarray(0, nColours * 3), nColours);
}
