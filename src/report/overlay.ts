// Overlays: a grey frame with the truth's contour and a prediction's, in colours that stay apart under
// colour-vision deficiencies. Drawn by hand on packed RGB (a few loops; no canvas library needed).
import type { GreyImage } from "../io/image.js";

/** An RGB colour, each channel 0..255. */
export type Rgb = readonly [number, number, number];

export const GREEN: Rgb = [0, 255, 0];
export const RED: Rgb = [255, 0, 0];
/**
 * The overlay pair, from the Okabe-Ito palette: blue (#0072B2) for the truth and orange (#E69F00) for the
 * prediction stay apart under every common colour-vision deficiency (red/green does not) and show on grey.
 */
export const TRUTH_COLOR: Rgb = [0x00, 0x72, 0xb2];
export const PRED_COLOR: Rgb = [0xe6, 0x9f, 0x00];
/** Contour width of the overlays, in pixels. */
export const CONTOUR_WIDTH = 2;

/** A grey image as packed RGB (each grey value copied to all three channels). */
export function greyToRgb(img: GreyImage): Uint8Array {
  const n = img.width * img.height;
  const rgb = new Uint8Array(n * 3);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const v = img.data[i];
    rgb[j] = v;
    rgb[j + 1] = v;
    rgb[j + 2] = v;
  }
  return rgb;
}

/**
 * The 1-px inner boundary of a mask (nonzero = on): the on pixels that have an off 4-neighbour,
 * counting the outside of the image as off so a mask touching the border is closed there too.
 * Returns 0/1 per pixel.
 */
export function contourOf(mask: Uint8Array, width: number, height: number): Uint8Array {
  if (mask.length !== width * height) {
    throw new Error(`contourOf: mask has ${mask.length} pixels, want ${width}x${height}`);
  }
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const i = row + x;
      if (mask[i] === 0) continue;
      if (
        x === 0 ||
        x === width - 1 ||
        y === 0 ||
        y === height - 1 ||
        mask[i - 1] === 0 ||
        mask[i + 1] === 0 ||
        mask[i - width] === 0 ||
        mask[i + width] === 0
      ) {
        out[i] = 1;
      }
    }
  }
  return out;
}

/**
 * A band `thickness` pixels wide along the mask's boundary (0/1 per pixel): `inner` on the mask's side
 * (its first pixel row is contourOf), `outer` just outside it (off pixels, the image border not counting
 * as mask). Each further pixel row is the pixels 4-adjacent to the previous row, on the same side.
 */
export function contourBand(
  mask: Uint8Array,
  width: number,
  height: number,
  thickness: number,
  side: "inner" | "outer",
): Uint8Array {
  const inner = side === "inner";
  const on = (i: number): boolean => (mask[i] !== 0) === inner;
  let band: Uint8Array;
  if (inner) band = contourOf(mask, width, height);
  else {
    band = new Uint8Array(width * height);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        if (mask[i] !== 0) continue;
        if (
          (x > 0 && mask[i - 1] !== 0) ||
          (x < width - 1 && mask[i + 1] !== 0) ||
          (y > 0 && mask[i - width] !== 0) ||
          (y < height - 1 && mask[i + width] !== 0)
        )
          band[i] = 1;
      }
  }
  for (let t = 2; t <= thickness; t++) {
    const next = band.slice();
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        if (band[i] || !on(i)) continue;
        if (
          (x > 0 && band[i - 1]) ||
          (x < width - 1 && band[i + 1]) ||
          (y > 0 && band[i - width]) ||
          (y < height - 1 && band[i + width])
        )
          next[i] = 1;
      }
    band = next;
  }
  return band;
}

/**
 * Paints the mask's boundary into `rgb` in `color`: by default the 1-px inner boundary (see contourOf);
 * `thickness` and `side` as contourBand. Returns the pixel count painted.
 */
export function drawContour(
  rgb: Uint8Array,
  mask: Uint8Array,
  width: number,
  height: number,
  color: Rgb,
  thickness = 1,
  side: "inner" | "outer" = "inner",
): number {
  if (rgb.length !== width * height * 3) {
    throw new Error(`drawContour: ${rgb.length} RGB bytes for ${width}x${height}`);
  }
  if (mask.length !== width * height) {
    throw new Error(`drawContour: mask has ${mask.length} pixels, want ${width}x${height}`);
  }
  const edge = contourBand(mask, width, height, thickness, side);
  let n = 0;
  for (let i = 0; i < edge.length; i++) {
    if (edge[i] === 0) continue;
    rgb[i * 3] = color[0];
    rgb[i * 3 + 1] = color[1];
    rgb[i * 3 + 2] = color[2];
    n++;
  }
  return n;
}

/**
 * The usual picture: the grey image with the true mask's contour in blue (TRUTH_COLOR, a 2-px band just
 * outside the mask) and a prediction's in orange (PRED_COLOR, a 2-px band just inside it), so a perfect
 * prediction shows both lines side by side instead of one hiding the other.
 */
export function overlayRgb(img: GreyImage, mask?: Uint8Array | null, pred?: Uint8Array | null): Uint8Array {
  const rgb = greyToRgb(img);
  if (mask) drawContour(rgb, mask, img.width, img.height, TRUTH_COLOR, CONTOUR_WIDTH, "outer");
  if (pred) drawContour(rgb, pred, img.width, img.height, PRED_COLOR, CONTOUR_WIDTH, "inner");
  return rgb;
}
