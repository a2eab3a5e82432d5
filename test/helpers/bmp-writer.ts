/**
 * A tiny BMP encoder for test fixtures (no library writes BMP variants on demand): palette images of 1/4/8
 * bits (uncompressed or RLE8), 24-bit, and 16/32-bit words with or without BI_BITFIELDS masks; any header
 * size; bottom-up (the default, as BMP stores rows) or top-down.
 */

export interface BmpSpec {
  width: number;
  height: number;
  bpp: 1 | 4 | 8 | 16 | 24 | 32;
  /** DIB header size: 12 (core), 40 (info), 52, 56, 108 (V4), 124 (V5). Default 40. */
  header?: 12 | 40 | 52 | 56 | 108 | 124;
  topDown?: boolean;
  /** Palette colours [r, g, b] for bpp ≤ 8. */
  palette?: [number, number, number][];
  /**
   * Pixels in display order (top row first): palette indices for bpp ≤ 8, 0xRRGGBB for 24-bit, and the raw
   * pixel word for 16/32-bit.
   */
  pixels: number[];
  compression?: "rgb" | "rle8" | "rle4" | "bitfields" | "alphabitfields";
  /** Channel masks for bitfields (r, g, b[, a]). */
  masks?: number[];
  /** Overrides the palette's colours-used count written in the header. */
  coloursUsed?: number;
}

const COMPRESSION = { rgb: 0, rle8: 1, rle4: 2, bitfields: 3, alphabitfields: 6 } as const;

/** Encodes a BMP file. */
export function encodeBmp(spec: BmpSpec): Uint8Array {
  const { width, height, bpp } = spec;
  const header = spec.header ?? 40;
  const compression = spec.compression ?? "rgb";
  const palette = spec.palette ?? [];
  const core = header === 12;
  const entry = core ? 3 : 4;
  const masks = compression === "bitfields" || compression === "alphabitfields" ? (spec.masks ?? []) : [];
  const masksOutside = header === 40 ? masks.length * 4 : 0;

  // Stored rows, bottom-up unless topDown.
  const rowOrder = [...Array(height).keys()].map((r) => (spec.topDown ? r : height - 1 - r));
  let pixelData: Uint8Array;
  if (compression === "rle8") pixelData = encodeRle8(spec.pixels, width, rowOrder);
  else {
    const stride = Math.ceil((width * bpp) / 32) * 4;
    pixelData = new Uint8Array(stride * height);
    const view = new DataView(pixelData.buffer);
    rowOrder.forEach((y, r) => {
      const at = r * stride;
      for (let x = 0; x < width; x++) {
        const v = spec.pixels[y * width + x]!;
        if (bpp <= 8) {
          const bit = x * bpp;
          pixelData[at + (bit >> 3)] |= v << (8 - bpp - (bit & 7));
        } else if (bpp === 16) view.setUint16(at + 2 * x, v, true);
        else if (bpp === 24) {
          pixelData[at + 3 * x] = v & 0xff;
          pixelData[at + 3 * x + 1] = (v >> 8) & 0xff;
          pixelData[at + 3 * x + 2] = (v >> 16) & 0xff;
        } else view.setUint32(at + 4 * x, v >>> 0, true);
      }
    });
  }

  const pixelOffset = 14 + header + masksOutside + palette.length * entry;
  const total = pixelOffset + pixelData.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out[0] = 0x42;
  out[1] = 0x4d;
  view.setUint32(2, total, true);
  view.setUint32(10, pixelOffset, true);
  view.setUint32(14, header, true);
  if (core) {
    view.setUint16(18, width, true);
    view.setInt16(20, spec.topDown ? -height : height, true);
    view.setUint16(22, 1, true);
    view.setUint16(24, bpp, true);
  } else {
    view.setInt32(18, width, true);
    view.setInt32(22, spec.topDown ? -height : height, true);
    view.setUint16(26, 1, true);
    view.setUint16(28, bpp, true);
    view.setUint32(30, COMPRESSION[compression], true);
    view.setUint32(34, pixelData.length, true);
    view.setUint32(46, spec.coloursUsed ?? palette.length, true);
    // Masks sit at offset 54 either way: inside the header for 52+, right after a 40-byte one.
    masks.forEach((m, k) => view.setUint32(54 + 4 * k, m >>> 0, true));
  }
  palette.forEach(([r, g, b], k) => {
    const at = 14 + header + masksOutside + k * entry;
    out[at] = b;
    out[at + 1] = g;
    out[at + 2] = r;
  });
  out.set(pixelData, pixelOffset);
  return out;
}

/** RLE8 of the rows (in stored order): runs as (count, index), other stretches of ≥ 3 as literal runs. */
function encodeRle8(pixels: number[], width: number, rowOrder: number[]): Uint8Array {
  const out: number[] = [];
  for (const y of rowOrder) {
    const row = pixels.slice(y * width, (y + 1) * width);
    let x = 0;
    while (x < width) {
      let run = 1;
      while (x + run < width && run < 255 && row[x + run] === row[x]) run++;
      if (run >= 2) {
        out.push(run, row[x]!);
        x += run;
        continue;
      }
      let lit = 1;
      while (x + lit < width && lit < 255 && row[x + lit] !== row[x + lit - 1]) lit++;
      if (x + lit < width) lit--; // leave the start of the next run alone
      if (lit >= 3) {
        out.push(0, lit, ...row.slice(x, x + lit));
        if (lit & 1) out.push(0);
        x += lit;
      } else {
        out.push(1, row[x]!);
        x++;
      }
    }
    out.push(0, 0);
  }
  out.push(0, 1);
  return Uint8Array.from(out);
}
