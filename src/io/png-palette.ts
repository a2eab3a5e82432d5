/**
 * PNG header parsing, and a decoder for palette PNGs (colour type 3) that keeps the palette indices.
 *
 * sharp (libpng) expands a palette to RGB, which loses the indices a label map stores: two labels may share a
 * colour, and an embedded ICC profile or tRNS chunk changes what comes out. So palette PNGs are decoded here,
 * by hand: chunks (CRC-checked), zlib inflate of the IDAT stream, scanline filters, Adam7 interlacing, and
 * 1/2/4/8-bit index unpacking. Every other PNG goes through sharp (see image-read.ts).
 */
import { fileError } from "../core/errors.js";
import { inflateSyncUpTo } from "./inflate.js";
import { checkFrameSize, type DecodeLimits } from "./limits.js";
import { paletteLuma } from "./luma.js";

export const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const;

/** The fields of a PNG's IHDR chunk. */
export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  /** 0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA. */
  colourType: number;
  interlace: number;
}

/** Parses the signature and IHDR; fileError if the file is not a well-formed PNG start. */
export function readPngHeader(bytes: Uint8Array, file: string): PngHeader {
  const fail = (problem: string): never => {
    throw fileError(file, problem);
  };
  if (bytes.length < 33) fail(`truncated PNG (only ${bytes.length} bytes)`);
  for (let i = 0; i < 8; i++) if (bytes[i] !== PNG_SIGNATURE[i]) fail("not a PNG (bad signature)");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(8) !== 13 || String.fromCharCode(...bytes.subarray(12, 16)) !== "IHDR")
    fail("corrupt PNG: the first chunk is not IHDR");
  const header: PngHeader = {
    width: view.getUint32(16),
    height: view.getUint32(20),
    bitDepth: bytes[24]!,
    colourType: bytes[25]!,
    interlace: bytes[28]!,
  };
  const allowed: Record<number, number[]> = {
    0: [1, 2, 4, 8, 16],
    2: [8, 16],
    3: [1, 2, 4, 8],
    4: [8, 16],
    6: [8, 16],
  };
  const depths = allowed[header.colourType];
  if (!depths) fail(`corrupt PNG: colour type ${header.colourType} does not exist`);
  if (!depths!.includes(header.bitDepth))
    fail(`corrupt PNG: bit depth ${header.bitDepth} is not allowed with colour type ${header.colourType}`);
  if (header.interlace > 1) fail(`corrupt PNG: interlace method ${header.interlace} does not exist`);
  return header;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 as PNG defines it (ISO 3309), over `bytes`. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A palette PNG decoded without expanding the palette. */
export interface PalettePng {
  width: number;
  height: number;
  bitDepth: number;
  /** One palette index per pixel, row-major. */
  indices: Uint8Array;
  /** BT.601 luma of each pixel's palette colour (alpha from tRNS is ignored). */
  luma: Uint8Array;
}

/** Adam7 passes: x0, y0, dx, dy. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

/**
 * Decodes a palette PNG (colour type 3); its size is checked against `limits` first, and the image data is
 * inflated no further than the scanlines its size needs.
 */
export function decodePalettePng(bytes: Uint8Array, file: string, limits: DecodeLimits): PalettePng {
  const fail = (problem: string): never => {
    throw fileError(file, problem);
  };
  const h = readPngHeader(bytes, file);
  if (h.colourType !== 3) fail("not a palette PNG");
  const { width, height, bitDepth } = h;
  if (width === 0 || height === 0) fail(`empty image (${width}x${height})`);
  checkFrameSize(file, width, height, limits);

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let palette: Uint8Array | null = null;
  const idat: Uint8Array[] = [];
  let sawEnd = false;
  for (let at = 8; at < bytes.length;) {
    if (at + 12 > bytes.length) fail("truncated PNG (a chunk header runs past the end)");
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (length > bytes.length - at - 12)
      fail(`truncated PNG (chunk ${safeChunkName(type)} runs past the end)`);
    const body = bytes.subarray(at + 8, at + 8 + length);
    if (crc32(bytes.subarray(at + 4, at + 8 + length)) !== view.getUint32(at + 8 + length))
      fail(`corrupt PNG (bad CRC in chunk ${safeChunkName(type)})`);
    if (type === "PLTE") {
      if (length === 0 || length % 3 !== 0 || length > 768) fail(`corrupt PNG (PLTE of ${length} bytes)`);
      palette = body;
    } else if (type === "IDAT") idat.push(body);
    else if (type === "IEND") {
      sawEnd = true;
      break;
    }
    at += 12 + length;
  }
  if (!sawEnd) fail("truncated PNG (no IEND chunk)");
  if (!palette) return fail("corrupt PNG (palette image without a PLTE chunk)");
  if (idat.length === 0) fail("corrupt PNG (no image data)");

  const passes = h.interlace === 1 ? ADAM7 : ([[0, 0, 1, 1]] as const);
  // The filtered scanlines, a filter byte each: all the stream may hold (a little slack for encoders that
  // flush an extra empty block).
  let expected = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const pw = Math.ceil((width - x0) / dx);
    const ph = Math.ceil((height - y0) / dy);
    if (pw > 0 && ph > 0) expected += ph * (1 + Math.ceil((pw * bitDepth) / 8));
  }
  let raw: Buffer | null;
  try {
    raw = inflateSyncUpTo(Buffer.concat(idat), expected + 1024);
  } catch (e) {
    return fail(`corrupt or truncated PNG image data (${(e as { code?: string }).code ?? "zlib error"})`);
  }
  if (!raw)
    return fail(`corrupt PNG: the image data holds more than the ${width}x${height} pixels of its header`);

  const nColours = palette.length / 3;
  const lumaOf = paletteLuma(palette, nColours);
  const indices = new Uint8Array(width * height);
  const luma = new Uint8Array(width * height);
  const bytesPerPixel = 1; // filters work on whole bytes: 1 for any palette depth
  let pos = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const pw = Math.ceil((width - x0) / dx);
    const ph = Math.ceil((height - y0) / dy);
    if (pw <= 0 || ph <= 0) continue;
    const stride = Math.ceil((pw * bitDepth) / 8);
    let prev = new Uint8Array(stride);
    let cur = new Uint8Array(stride);
    for (let r = 0; r < ph; r++) {
      if (pos + 1 + stride > raw.length) fail("truncated PNG image data");
      const filter = raw[pos]!;
      unfilter(filter, raw.subarray(pos + 1, pos + 1 + stride), prev, cur, bytesPerPixel, fail);
      pos += 1 + stride;
      const y = y0 + r * dy;
      for (let c = 0; c < pw; c++) {
        const bit = c * bitDepth;
        const index = (cur[bit >> 3]! >> (8 - bitDepth - (bit & 7))) & ((1 << bitDepth) - 1);
        if (index >= nColours)
          fail(`corrupt PNG (palette index ${index} beyond the ${nColours}-colour palette)`);
        const i = y * width + x0 + c * dx;
        indices[i] = index;
        luma[i] = lumaOf[index]!;
      }
      [prev, cur] = [cur, prev];
    }
  }
  return { width, height, bitDepth, indices, luma };
}

/** Undoes one scanline's filter into `out` (the previous row's bytes in `prev`). */
function unfilter(
  filter: number,
  line: Uint8Array,
  prev: Uint8Array,
  out: Uint8Array,
  bpp: number,
  fail: (problem: string) => never,
): void {
  const n = line.length;
  switch (filter) {
    case 0:
      out.set(line);
      return;
    case 1:
      for (let i = 0; i < n; i++) out[i] = (line[i]! + (i >= bpp ? out[i - bpp]! : 0)) & 0xff;
      return;
    case 2:
      for (let i = 0; i < n; i++) out[i] = (line[i]! + prev[i]!) & 0xff;
      return;
    case 3:
      for (let i = 0; i < n; i++)
        out[i] = (line[i]! + (((i >= bpp ? out[i - bpp]! : 0) + prev[i]!) >> 1)) & 0xff;
      return;
    case 4:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? out[i - bpp]! : 0;
        const b = prev[i]!;
        const c = i >= bpp ? prev[i - bpp]! : 0;
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        out[i] = (line[i]! + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 0xff;
      }
      return;
    default:
      fail(`corrupt PNG (unknown scanline filter ${filter})`);
  }
}

/** A chunk type for messages: the four letters if they are letters, else a placeholder. */
function safeChunkName(type: string): string {
  return /^[A-Za-z]{4}$/.test(type) ? type : "(unnamed)";
}
