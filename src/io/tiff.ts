/**
 * A small pure-TypeScript TIFF reader/writer for what the Kaggle data needs: 8-bit grey, one sample per
 * pixel, stripped, uncompressed or LZW. Everything else is rejected with an error naming the file and why.
 */
import { fileError } from "../core/errors.js";
import { writeFileAtomic } from "./atomic.js";
import type { GreyImage } from "./image.js";
import { checkBudget, decodeLimits, maxImageFileBytes, type DecodeLimits } from "./limits.js";
import { LzwError, lzwDecodeInto, lzwEncode } from "./lzw.js";
import { readRegularFileSync } from "./read-file.js";

export interface TiffWriteOptions {
  /** "lzw" (default, as the competition files) or "none". */
  compression?: "lzw" | "none";
  /** Rows per strip; default as libtiff: strips of about 8 KB. */
  rowsPerStrip?: number;
}

const TAG = {
  NewSubfileType: 254,
  ImageWidth: 256,
  ImageLength: 257,
  BitsPerSample: 258,
  Compression: 259,
  Photometric: 262,
  FillOrder: 266,
  StripOffsets: 273,
  SamplesPerPixel: 277,
  RowsPerStrip: 278,
  StripByteCounts: 279,
  PlanarConfig: 284,
  Software: 305,
  Predictor: 317,
  ColorMap: 320,
  TileWidth: 322,
  TileLength: 323,
  TileOffsets: 324,
  TileByteCounts: 325,
  SampleFormat: 339,
} as const;

const COMPRESSION_NAMES: Record<number, string> = {
  2: "CCITT RLE",
  3: "CCITT fax 3",
  4: "CCITT fax 4",
  6: "old-style JPEG",
  7: "JPEG",
  8: "Deflate",
  32946: "Deflate",
  32773: "PackBits",
  34887: "LERC",
  34925: "LZMA",
  50000: "Zstd",
  50001: "WebP",
};

/** Byte size of one value of each TIFF field type (classic TIFF). */
const TYPE_SIZE: Record<number, number> = {
  1: 1,
  2: 1,
  3: 2,
  4: 4,
  5: 8,
  6: 1,
  7: 1,
  8: 2,
  9: 4,
  10: 8,
  11: 4,
  12: 8,
};

interface Entry {
  type: number;
  count: number;
  /** Offset in the file of the first value (inline values point into the IFD entry itself). */
  valueOffset: number;
}

/**
 * Decodes a TIFF held in memory; `file` only names it in error messages. The image's size is checked against
 * `limits` (the process's by default) before its strips are decoded.
 */
export function decodeTiff(
  bytes: Uint8Array,
  file: string,
  limits: DecodeLimits = decodeLimits(),
): GreyImage {
  const fail = (problem: string): never => {
    throw fileError(file, problem);
  };
  const size = bytes.length;
  if (size < 8) fail(`not a TIFF (only ${size} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const b0 = bytes[0]!;
  const b1 = bytes[1]!;
  let le: boolean;
  if (b0 === 0x49 && b1 === 0x49) le = true;
  else if (b0 === 0x4d && b1 === 0x4d) le = false;
  else return fail("not a TIFF (bad magic: the file must start with II or MM)");
  const version = view.getUint16(2, le);
  if (version === 43) fail("BigTIFF is not supported (only classic TIFF)");
  if (version !== 42) fail(`not a TIFF (bad magic: version ${version}, expected 42)`);

  const ifd = view.getUint32(4, le);
  if (ifd < 8 || ifd + 2 > size)
    fail(`truncated or corrupt: first directory at offset ${ifd} is past the end (${size} bytes)`);
  const nEntries = view.getUint16(ifd, le);
  if (ifd + 2 + nEntries * 12 > size)
    fail(`truncated: directory at offset ${ifd} runs past the end of the file`);

  const entries = new Map<number, Entry>();
  for (let i = 0; i < nEntries; i++) {
    const at = ifd + 2 + i * 12;
    const tag = view.getUint16(at, le);
    const type = view.getUint16(at + 2, le);
    const count = view.getUint32(at + 4, le);
    const unit = TYPE_SIZE[type];
    if (unit === undefined) continue; // unknown types are skipped, as libtiff does
    const bytesNeeded = unit * count;
    const valueOffset = bytesNeeded <= 4 ? at + 8 : view.getUint32(at + 8, le);
    entries.set(tag, { type, count, valueOffset });
  }

  /** Reads value i of an integer tag (BYTE, SHORT or LONG). */
  const valueAt = (tag: number, e: Entry, i: number): number => {
    const off = e.valueOffset + i * TYPE_SIZE[e.type]!;
    if (off + TYPE_SIZE[e.type]! > size) fail(`truncated: values of tag ${tag} run past the end of the file`);
    switch (e.type) {
      case 1:
        return view.getUint8(off);
      case 3:
        return view.getUint16(off, le);
      case 4:
        return view.getUint32(off, le);
      default:
        return fail(`tag ${tag} has type ${e.type}, expected an unsigned integer`);
    }
  };
  const scalar = (tag: number, fallback?: number): number => {
    const e = entries.get(tag);
    if (!e || e.count === 0) {
      if (fallback === undefined) fail(`missing required tag ${tag}`);
      return fallback!;
    }
    return valueAt(tag, e, 0);
  };
  const array = (tag: number, name: string, n: number): number[] => {
    const e = entries.get(tag);
    if (!e) return fail(`missing ${name}`);
    if (e.count < n) fail(`${name} has ${e.count} values, expected ${n} (one per strip)`);
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = valueAt(tag, e, i);
    return out;
  };

  if (entries.has(TAG.TileWidth) || entries.has(TAG.TileOffsets))
    fail("tiled TIFF is not supported (only strips)");
  const width = scalar(TAG.ImageWidth);
  const height = scalar(TAG.ImageLength);
  if (width === 0 || height === 0) fail(`empty image (${width}x${height})`);
  checkBudget(
    file,
    { frames: 1, width, height, totalPixels: width * height, sampleBytes: width * height, fileBytes: size },
    limits,
  );

  const spp = scalar(TAG.SamplesPerPixel, 1);
  const photometric = scalar(TAG.Photometric, 1);
  if (photometric === 2) fail("RGB images are not supported (only 8-bit grey)");
  if (photometric === 3 || entries.has(TAG.ColorMap))
    fail("palette images are not supported (only 8-bit grey)");
  if (photometric !== 0 && photometric !== 1)
    fail(`photometric interpretation ${photometric} is not supported (only grey)`);
  if (spp !== 1) fail(`${spp} samples per pixel are not supported (only 1: grey)`);
  const bps = scalar(TAG.BitsPerSample, 1);
  if (bps !== 8) fail(`${bps}-bit samples are not supported (only 8-bit)`);
  const sampleFormat = scalar(TAG.SampleFormat, 1);
  if (sampleFormat !== 1) fail(`sample format ${sampleFormat} is not supported (only unsigned integers)`);
  if (scalar(TAG.FillOrder, 1) !== 1) fail("fill order 2 (reversed bits) is not supported");

  const compression = scalar(TAG.Compression, 1);
  if (compression !== 1 && compression !== 5) {
    const name = COMPRESSION_NAMES[compression];
    fail(
      `${name ? `${name} compression` : `compression ${compression}`} is not supported (only none and LZW)`,
    );
  }
  const predictor = scalar(TAG.Predictor, 1);
  if (predictor !== 1 && predictor !== 2) fail(`predictor ${predictor} is not supported (only 1 and 2)`);

  const rowsPerStrip = Math.min(scalar(TAG.RowsPerStrip, height) || height, height);
  const nStrips = Math.ceil(height / rowsPerStrip);
  const offsets = array(TAG.StripOffsets, "StripOffsets", nStrips);
  const counts = array(TAG.StripByteCounts, "StripByteCounts", nStrips);

  const data = new Uint8Array(width * height);
  for (let s = 0; s < nStrips; s++) {
    const outStart = s * rowsPerStrip * width;
    const outEnd = Math.min(height, (s + 1) * rowsPerStrip) * width;
    const off = offsets[s]!;
    const count = counts[s]!;
    if (off > size || count > size - off) {
      fail(
        `truncated: strip ${s} (offset ${off}, ${count} bytes) runs past the end of the file (${size} bytes)`,
      );
    }
    const strip = bytes.subarray(off, off + count);
    let got: number;
    if (compression === 1) {
      got = Math.min(count, outEnd - outStart);
      data.set(strip.subarray(0, got), outStart);
    } else {
      try {
        got = lzwDecodeInto(strip, data, outStart, outEnd);
      } catch (e) {
        if (e instanceof LzwError) return fail(`corrupt LZW data in strip ${s}: ${e.message}`);
        throw e;
      }
    }
    if (got < outEnd - outStart) fail(`strip ${s} decodes to ${got} bytes, expected ${outEnd - outStart}`);
  }

  // Predictor 2: each row stores differences from the pixel to its left.
  if (predictor === 2) {
    for (let y = 0; y < height; y++) {
      const row = y * width;
      for (let x = 1; x < width; x++) data[row + x] = (data[row + x]! + data[row + x - 1]!) & 0xff;
    }
  }
  // WhiteIsZero: invert so that callers always see 0 = black.
  if (photometric === 0) for (let i = 0; i < data.length; i++) data[i] = 255 - data[i]!;

  return { width, height, data };
}

/** Reads an 8-bit grey TIFF file (a regular file, within the limits). */
export function readTiff(file: string, limits: DecodeLimits = decodeLimits()): GreyImage {
  const bytes = readRegularFileSync(file, {
    maxBytes: maxImageFileBytes(limits),
    reason: "the largest image within the limits: 8 bytes per pixel of --max-total-pixels",
    what: "a TIFF file",
  });
  return decodeTiff(bytes, file, limits);
}

/** Encodes an 8-bit grey image as a little-endian TIFF (min-is-black), LZW by default. */
export function encodeTiff(img: GreyImage, opts: TiffWriteOptions = {}): Uint8Array {
  const { width, height, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`encodeTiff: bad size ${width}x${height}`);
  }
  if (width > 0xffffffff || height > 0xffffffff || data.length !== width * height) {
    throw new Error(`encodeTiff: ${data.length} bytes of data for a ${width}x${height} image`);
  }
  const lzw = (opts.compression ?? "lzw") === "lzw";
  // libtiff's default strip size: as many rows as fit in 8 KB (at least one).
  const rowsPerStrip = Math.min(height, Math.max(1, opts.rowsPerStrip ?? Math.floor(8192 / width)));
  const nStrips = Math.ceil(height / rowsPerStrip);

  const strips: Uint8Array[] = [];
  for (let s = 0; s < nStrips; s++) {
    const rows = data.subarray(s * rowsPerStrip * width, Math.min(height, (s + 1) * rowsPerStrip) * width);
    strips.push(lzw ? lzwEncode(rows) : rows);
  }

  const software = "nerveseg\0";
  const nTags = 11;
  const dataStart = 8;
  const dataBytes = strips.reduce((n, s) => n + s.length, 0);
  const ifd = dataStart + dataBytes + ((dataStart + dataBytes) & 1); // directories sit on word boundaries
  const extra = ifd + 2 + nTags * 12 + 4; // out-of-line values follow the directory
  const offsetsAt = extra;
  const countsAt = offsetsAt + (nStrips > 1 ? 4 * nStrips : 0);
  const softwareAt = countsAt + (nStrips > 1 ? 4 * nStrips : 0);
  const total = softwareAt + software.length;

  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out[0] = 0x49;
  out[1] = 0x49;
  view.setUint16(2, 42, true);
  view.setUint32(4, ifd, true);
  let pos = dataStart;
  const stripOffsets: number[] = [];
  for (const s of strips) {
    stripOffsets.push(pos);
    out.set(s, pos);
    pos += s.length;
  }

  view.setUint16(ifd, nTags, true);
  let at = ifd + 2;
  const entry = (tag: number, type: 3 | 4 | 2, count: number, value: number): void => {
    view.setUint16(at, tag, true);
    view.setUint16(at + 2, type, true);
    view.setUint32(at + 4, count, true);
    if (type === 3 && count === 1) view.setUint16(at + 8, value, true);
    else view.setUint32(at + 8, value, true);
    at += 12;
  };
  const sizeType = width > 0xffff || height > 0xffff ? 4 : 3;
  // Tags in ascending order, as the format requires.
  entry(TAG.ImageWidth, sizeType, 1, width);
  entry(TAG.ImageLength, sizeType, 1, height);
  entry(TAG.BitsPerSample, 3, 1, 8);
  entry(TAG.Compression, 3, 1, lzw ? 5 : 1);
  entry(TAG.Photometric, 3, 1, 1);
  entry(TAG.StripOffsets, 4, nStrips, nStrips > 1 ? offsetsAt : stripOffsets[0]!);
  entry(TAG.SamplesPerPixel, 3, 1, 1);
  entry(TAG.RowsPerStrip, 4, 1, rowsPerStrip);
  entry(TAG.StripByteCounts, 4, nStrips, nStrips > 1 ? countsAt : strips[0]!.length);
  entry(TAG.PlanarConfig, 3, 1, 1);
  entry(TAG.Software, 2, software.length, softwareAt);
  view.setUint32(at, 0, true); // no next directory
  if (nStrips > 1) {
    for (let s = 0; s < nStrips; s++) {
      view.setUint32(offsetsAt + 4 * s, stripOffsets[s]!, true);
      view.setUint32(countsAt + 4 * s, strips[s]!.length, true);
    }
  }
  for (let i = 0; i < software.length; i++) out[softwareAt + i] = software.charCodeAt(i);
  return out;
}

/** Writes an 8-bit grey TIFF atomically (temp file + rename). */
export function writeTiff(file: string, img: GreyImage, opts: TiffWriteOptions = {}): void {
  writeFileAtomic(file, encodeTiff(img, opts));
}
