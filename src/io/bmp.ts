/**
 * A Windows BMP decoder, written by hand because sharp cannot read BMP: its bundled libvips has no BMP loader
 * (libvips reads BMP only through ImageMagick, which sharp's prebuilt binaries leave out), and BMP is simple.
 *
 * Reads BITMAPCOREHEADER (12 bytes), BITMAPINFOHEADER (40) and its V2/V3/V4/V5 extensions (52, 56, 108, 124);
 * 1/4/8-bit palette images (uncompressed or RLE8), 16/24/32-bit direct colour, BI_BITFIELDS and
 * BI_ALPHABITFIELDS channel masks, and bottom-up (positive height) or top-down (negative height) row order.
 * Refused with a reason: RLE4, embedded JPEG/PNG (BI_JPEG, BI_PNG), OS/2 2.x headers, CMYK compressions.
 * Alpha is ignored. Direct colour channels narrower than 8 bits are widened as round(v * 255 / max).
 */
import { fileError } from "../core/errors.js";
import { checkBudget, type DecodeLimits } from "./limits.js";
import { luma601, paletteLuma } from "./luma.js";

export interface DecodedBmp {
  width: number;
  height: number;
  /** Bits per palette index (1, 4, 8), or per colour channel for direct colour (the widest channel). */
  bitDepth: number;
  /** Palette indices (palette images only). */
  indices?: Uint8Array;
  /** BT.601 luma per pixel. */
  luma: Uint8Array;
}

const BI_RGB = 0;
const BI_RLE8 = 1;
const BI_RLE4 = 2;
const BI_BITFIELDS = 3;
const BI_JPEG = 4;
const BI_PNG = 5;
const BI_ALPHABITFIELDS = 6;

/** Detects a BMP: "BM" followed by a known DIB header size at offset 14. */
export function isBmp(bytes: Uint8Array): boolean {
  if (bytes.length < 18 || bytes[0] !== 0x42 || bytes[1] !== 0x4d) return false;
  const size = bytes[14]! | (bytes[15]! << 8) | (bytes[16]! << 16) | (bytes[17]! << 24);
  return [12, 40, 52, 56, 64, 108, 124].includes(size);
}

/** Decodes a BMP held in memory; its size is checked against `limits` before its pixels are read. */
export function decodeBmp(bytes: Uint8Array, file: string, limits: DecodeLimits): DecodedBmp {
  const fail = (problem: string): never => {
    throw fileError(file, problem);
  };
  if (!isBmp(bytes)) fail("not a BMP (bad signature or header size)");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (end: number, what: string): void => {
    if (end > bytes.length) fail(`truncated BMP (${what} runs past the end)`);
  };
  const pixelOffset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  need(14 + headerSize, "header");
  if (headerSize === 64) fail("OS/2 2.x BMP headers are not supported");

  let width: number;
  let rawHeight: number;
  let bpp: number;
  let compression = BI_RGB;
  let coloursUsed = 0;
  const core = headerSize === 12;
  if (core) {
    width = view.getUint16(18, true);
    rawHeight = view.getInt16(20, true);
    bpp = view.getUint16(24, true);
  } else {
    width = view.getInt32(18, true);
    rawHeight = view.getInt32(22, true);
    bpp = view.getUint16(28, true);
    compression = view.getUint32(30, true);
    coloursUsed = view.getUint32(46, true);
  }
  const topDown = rawHeight < 0;
  const height = Math.abs(rawHeight);
  if (width <= 0 || height === 0) fail(`empty or invalid size (${width}x${rawHeight})`);
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) fail(`${bpp} bits per pixel is not a BMP depth`);
  checkBudget(
    file,
    {
      frames: 1,
      width,
      height,
      totalPixels: width * height,
      sampleBytes: height * Math.ceil((width * bpp) / 8),
      fileBytes: bytes.length,
    },
    limits,
  );

  if (compression === BI_RLE4) fail("RLE4-compressed BMP is not supported (only RLE8 and uncompressed)");
  if (compression === BI_JPEG || compression === BI_PNG)
    fail(`BMP with embedded ${compression === BI_JPEG ? "JPEG" : "PNG"} data is not supported`);
  if (compression > BI_ALPHABITFIELDS) fail(`BMP compression ${compression} is not supported`);
  if (compression === BI_RLE8 && bpp !== 8) fail(`corrupt BMP (RLE8 with ${bpp} bits per pixel)`);
  if (compression === BI_RLE8 && topDown) fail("corrupt BMP (RLE8 with top-down rows)");
  if ((compression === BI_BITFIELDS || compression === BI_ALPHABITFIELDS) && bpp !== 16 && bpp !== 32)
    fail(`corrupt BMP (bit fields with ${bpp} bits per pixel)`);

  const paletted = bpp <= 8;
  // Where the palette starts: after the header, and after the masks a 40-byte header keeps outside itself.
  let after = 14 + headerSize;
  let masks: number[] | null = null;
  if (compression === BI_BITFIELDS || compression === BI_ALPHABITFIELDS) {
    const n = compression === BI_ALPHABITFIELDS ? 4 : 3;
    const at = headerSize >= 52 ? 54 : after;
    need(at + 4 * n, "colour masks");
    masks = [0, 1, 2].map((k) => view.getUint32(at + 4 * k, true));
    if (headerSize < 52) after += 4 * n;
  } else if (!paletted) {
    masks = bpp === 16 ? [0x7c00, 0x03e0, 0x001f] : [0xff0000, 0x00ff00, 0x0000ff];
  }

  let lumaTable: Uint8Array | null = null;
  let nColours = 0;
  if (paletted) {
    const entry = core ? 3 : 4;
    nColours = coloursUsed === 0 || coloursUsed > 1 << bpp ? 1 << bpp : coloursUsed;
    // Writers that leave the count out (always so with the core header) store only the colours they use:
    // the palette cannot run into the pixel data.
    if (pixelOffset > after) nColours = Math.min(nColours, Math.floor((pixelOffset - after) / entry));
    if (nColours === 0) fail("corrupt BMP (palette image without a palette)");
    need(after + nColours * entry, "palette");
    const rgb = new Uint8Array(nColours * 3);
    for (let k = 0; k < nColours; k++) {
      const at = after + k * entry;
      rgb[3 * k] = bytes[at + 2]!;
      rgb[3 * k + 1] = bytes[at + 1]!;
      rgb[3 * k + 2] = bytes[at]!;
    }
    lumaTable = paletteLuma(rgb, nColours);
  }

  const n = width * height;
  const luma = new Uint8Array(n);
  const indices = paletted ? new Uint8Array(n) : undefined;
  /** Output row for stored row r (BMP rows are bottom-up unless the height is negative). */
  const rowOf = (r: number): number => (topDown ? r : height - 1 - r);

  if (pixelOffset > bytes.length) fail("truncated BMP (pixel data starts past the end)");
  if (compression === BI_RLE8) {
    decodeRle8(bytes.subarray(pixelOffset), width, height, indices!, fail);
    for (let i = 0; i < n; i++) {
      if (indices![i]! >= nColours)
        fail(`corrupt BMP (palette index ${indices![i]} beyond the ${nColours}-colour palette)`);
      luma[i] = lumaTable![indices![i]!]!;
    }
    return { width, height, bitDepth: 8, indices, luma };
  }

  const stride = Math.ceil((width * bpp) / 32) * 4;
  // The last row need not be padded in practice; require only its pixel bytes.
  need(pixelOffset + stride * (height - 1) + Math.ceil((width * bpp) / 8), "pixel data");

  if (paletted) {
    const perByte = 8 / bpp;
    const bitMask = (1 << bpp) - 1;
    for (let r = 0; r < height; r++) {
      const src = pixelOffset + r * stride;
      const dst = rowOf(r) * width;
      for (let x = 0; x < width; x++) {
        const byte = bytes[src + Math.floor(x / perByte)]!;
        const shift = 8 - bpp * ((x % perByte) + 1);
        const v = (byte >> shift) & bitMask;
        if (v >= nColours) fail(`corrupt BMP (palette index ${v} beyond the ${nColours}-colour palette)`);
        indices![dst + x] = v;
        luma[dst + x] = lumaTable![v]!;
      }
    }
    return { width, height, bitDepth: bpp, indices, luma };
  }

  if (bpp === 24) {
    for (let r = 0; r < height; r++) {
      const src = pixelOffset + r * stride;
      const dst = rowOf(r) * width;
      for (let x = 0; x < width; x++) {
        const at = src + 3 * x;
        luma[dst + x] = luma601(bytes[at + 2]!, bytes[at + 1]!, bytes[at]!);
      }
    }
    return { width, height, bitDepth: 8, luma };
  }

  // 16 or 32 bits with channel masks.
  const channels = masks!.map((m) => {
    if (m === 0) return { shift: 0, max: 0 };
    let shift = 0;
    while (((m >>> shift) & 1) === 0) shift++;
    const max = m >>> shift;
    if ((max & (max + 1)) !== 0) fail(`corrupt BMP (colour mask 0x${m.toString(16)} is not contiguous)`);
    if (max > 0xffff) fail(`colour mask 0x${m.toString(16)} is wider than 16 bits`);
    return { shift, max };
  });
  const bitDepth = Math.max(...channels.map((c) => Math.log2(c.max + 1)));
  const widen = (raw: number, c: { shift: number; max: number }): number =>
    c.max === 0
      ? 0
      : c.max === 255
        ? (raw >>> c.shift) & 255
        : Math.round((((raw >>> c.shift) & c.max) * 255) / c.max);
  for (let r = 0; r < height; r++) {
    const src = pixelOffset + r * stride;
    const dst = rowOf(r) * width;
    for (let x = 0; x < width; x++) {
      const raw = bpp === 16 ? view.getUint16(src + 2 * x, true) : view.getUint32(src + 4 * x, true);
      luma[dst + x] = luma601(widen(raw, channels[0]!), widen(raw, channels[1]!), widen(raw, channels[2]!));
    }
  }
  return { width, height, bitDepth, luma };
}

/**
 * RLE8: pairs (count, index) repeat an index; (0, 0) ends a row, (0, 1) ends the image, (0, 2, dx, dy) moves
 * the cursor (skipped pixels stay index 0), (0, n ≥ 3) is followed by n literal indices padded to a word.
 */
function decodeRle8(
  data: Uint8Array,
  width: number,
  height: number,
  out: Uint8Array,
  fail: (problem: string) => never,
): void {
  let x = 0;
  let r = 0; // stored row, bottom-up
  let i = 0;
  const put = (v: number): void => {
    if (x >= width || r >= height) fail("corrupt BMP (RLE8 data runs past the image)");
    out[(height - 1 - r) * width + x] = v;
    x++;
  };
  for (;;) {
    if (i + 2 > data.length) fail("truncated BMP (RLE8 data ends without an end-of-bitmap mark)");
    const a = data[i++]!;
    const b = data[i++]!;
    if (a > 0) {
      for (let k = 0; k < a; k++) put(b);
    } else if (b === 0) {
      x = 0;
      r++;
    } else if (b === 1) {
      return;
    } else if (b === 2) {
      if (i + 2 > data.length) fail("truncated BMP (RLE8 data ends inside a move)");
      x += data[i++]!;
      r += data[i++]!;
    } else {
      if (i + b > data.length) fail("truncated BMP (RLE8 literal run past the end)");
      for (let k = 0; k < b; k++) put(data[i + k]!);
      i += b + (b & 1);
    }
  }
}
