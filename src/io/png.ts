import { PNG } from "pngjs";
import { writeFileAtomic } from "./atomic.js";
import type { GreyImage } from "./image.js";

/** An RGB colour, each channel 0..255. */
export type Rgb = readonly [number, number, number];

export const GREEN: Rgb = [0, 255, 0];
export const RED: Rgb = [255, 0, 0];

/** Encodes packed 8-bit RGB (3 bytes per pixel, row-major) as a PNG (colour type 2, no alpha). */
export function encodePng(rgb: Uint8Array, width: number, height: number): Buffer {
  if (rgb.length !== width * height * 3) {
    throw new Error(`encodePng: ${rgb.length} bytes for ${width}x${height} RGB (want ${width * height * 3})`);
  }
  const png = new PNG({ width, height, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  // Same input and output colour type lets pngjs take the buffer as is (no RGBA round trip).
  png.data = Buffer.from(rgb.buffer, rgb.byteOffset, rgb.length);
  return PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false, deflateLevel: 6 });
}

/** Writes an RGB picture as a PNG file, atomically. */
export function writePng(file: string, rgb: Uint8Array, width: number, height: number): void {
  writeFileAtomic(file, encodePng(rgb, width, height));
}

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

/** Paints the mask's 1-px boundary (see contourOf) into `rgb` in `color`; returns the pixel count painted. */
export function drawContour(
  rgb: Uint8Array,
  mask: Uint8Array,
  width: number,
  height: number,
  color: Rgb,
): number {
  if (rgb.length !== width * height * 3) {
    throw new Error(`drawContour: ${rgb.length} RGB bytes for ${width}x${height}`);
  }
  const edge = contourOf(mask, width, height);
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

/** The usual picture: the grey image with the true mask's contour in green and a prediction's in red. */
export function overlayRgb(img: GreyImage, mask?: Uint8Array | null, pred?: Uint8Array | null): Uint8Array {
  const rgb = greyToRgb(img);
  if (mask) drawContour(rgb, mask, img.width, img.height, GREEN);
  if (pred) drawContour(rgb, pred, img.width, img.height, RED);
  return rgb;
}

/** Encodes an 8-bit grey image as a PNG (colour type 0): masks as 0/255. */
export function encodeGreyPng(img: GreyImage): Buffer {
  const { width, height, data } = img;
  if (data.length !== width * height)
    throw new Error(`encodeGreyPng: ${data.length} bytes for ${width}x${height}`);
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, inputHasAlpha: false });
  png.data = Buffer.from(data.buffer, data.byteOffset, data.length);
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false, deflateLevel: 6 });
}
