import { PNG } from "pngjs";
import { writeFileAtomic } from "./atomic.js";
import type { GreyImage } from "./image.js";

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

/** Encodes an 8-bit grey image as a PNG (colour type 0): masks as 0/255. */
export function encodeGreyPng(img: GreyImage): Buffer {
  const { width, height, data } = img;
  if (data.length !== width * height)
    throw new Error(`encodeGreyPng: ${data.length} bytes for ${width}x${height}`);
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, inputHasAlpha: false });
  png.data = Buffer.from(data.buffer, data.byteOffset, data.length);
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false, deflateLevel: 6 });
}
