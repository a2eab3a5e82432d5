import fs from "node:fs";
import path from "node:path";
import { PNG } from "pngjs";
import sharp from "sharp";

/** Writes an 8-bit grey image in the format its extension names (png, jpg, gif, tif), through sharp. */
export async function writeGrey(
  file: string,
  width: number,
  height: number,
  data: Uint8Array,
): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const img = sharp(Buffer.from(data), { raw: { width, height, channels: 1 } });
  const ext = path.extname(file).toLowerCase();
  const encoded =
    ext === ".png"
      ? img.png()
      : ext === ".jpg" || ext === ".jpeg"
        ? img.jpeg({ quality: 95 })
        : ext === ".gif"
          ? img.gif()
          : ext === ".tif" || ext === ".tiff"
            ? img.tiff({ compression: "deflate" })
            : null;
  if (!encoded) throw new Error(`writeGrey: no encoder for ${ext}`);
  fs.writeFileSync(file, await encoded.toBuffer());
}

/** A textured frame (distinct per seed) and a mask with a filled rectangle. */
export function frame(width: number, height: number, seed: number): Uint8Array {
  return new Uint8Array(width * height).map((_, i) => (i * 7 + seed * 31 + ((i / width) | 0) * 3) & 255);
}

export function rectMask(
  width: number,
  height: number,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
): Uint8Array {
  const m = new Uint8Array(width * height);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * width + x] = 255;
  return m;
}

/** A PNG's pixels as packed RGB (alpha dropped), through pngjs. */
export function decodePngRgb(buf: Buffer): { width: number; height: number; rgb: Uint8Array } {
  const png = PNG.sync.read(buf);
  const rgb = new Uint8Array(png.width * png.height * 3);
  for (let i = 0; i < png.width * png.height; i++)
    for (let c = 0; c < 3; c++) rgb[i * 3 + c] = png.data[i * 4 + c];
  return { width: png.width, height: png.height, rgb };
}
