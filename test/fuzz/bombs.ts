/**
 * Hand-made hostile inputs: small files whose headers ask for far more work than their bytes hold, the
 * cases a hostile-input probe found (issue 26). Each is generated here, deterministically, in well under a
 * second; none is stored in the repository.
 */
import zlib from "node:zlib";
import sharp from "sharp";
import { concat } from "../helpers/dicom-writer.js";

/** A generated bomb: its name (also the file name it is written under) and bytes. */
export interface Bomb {
  name: string;
  bytes: Uint8Array;
  /** What the probe saw before the budgets existed. */
  before: string;
}

const u16le = (v: number): number[] => [v & 255, (v >> 8) & 255];

// ---------------------------------------------------------------------------------------------------------
// GIF

/** LZW data (min code size 2) of one pixel of index 0: Clear, 0, End, as 3-bit codes, LSB first. */
const ONE_PIXEL_LZW = [2, 2, 0x44, 0x01, 0];

/** A GIF89a of `frames` 1x1 frames (each at `at(k)`) on a `width` x `height` logical screen. */
export function gifOfPixels(
  width: number,
  height: number,
  frames: number,
  at: (k: number) => [number, number] = () => [0, 0],
): Uint8Array {
  const head = [
    ...Buffer.from("GIF89a"),
    ...u16le(width),
    ...u16le(height),
    0x80,
    0,
    0,
    0,
    0,
    0,
    255,
    255,
    255,
  ];
  const body = new Uint8Array(frames * 15);
  for (let k = 0; k < frames; k++) {
    const [x, y] = at(k);
    body.set([0x2c, ...u16le(x), ...u16le(y), 1, 0, 1, 0, 0, ...ONE_PIXEL_LZW], k * 15);
  }
  return concat([Uint8Array.from(head), body, Uint8Array.from([0x3b])]);
}

/** 185 bytes: eleven 1x1 frames on a 5000x5000 canvas, composited into 11 canvas-sized frames. */
export function gifCanvasBomb(): Bomb {
  return {
    name: "canvas.gif",
    bytes: gifOfPixels(5000, 5000, 11, (k) => [k * 450, k * 450]),
    before: "185 bytes composited into 11 frames of 5000x5000: 12 s and 890 MB to read, more in predict",
  };
}

/** 1.5 MB: 100,000 frames of 1x1. */
export function gifManyFramesBomb(): Bomb {
  return {
    name: "frames.gif",
    bytes: gifOfPixels(1, 1, 100_000),
    before: "100,000 frames: 3.8 GB in predict, SIGTERM ignored, 45,696 temp files left after SIGKILL",
  };
}

// ---------------------------------------------------------------------------------------------------------
// JPEG

/** A real 64x48 JPEG whose frame header (SOF) says `width` x `height`. */
export async function lyingJpeg(width: number, height: number): Promise<Uint8Array> {
  const pixels = Uint8Array.from({ length: 64 * 48 }, (_, i) => (i * 13) & 255);
  const jpeg = Buffer.from(
    await sharp(pixels, { raw: { width: 64, height: 48, channels: 1 } })
      .jpeg({ quality: 90 })
      .toBuffer(),
  );
  for (let i = 2; i + 9 < jpeg.length;) {
    const marker = jpeg[i + 1]!;
    if (marker === 0xc0 || marker === 0xc2) {
      jpeg.writeUInt16BE(height, i + 5);
      jpeg.writeUInt16BE(width, i + 7);
      return jpeg;
    }
    i += 2 + jpeg.readUInt16BE(i + 2);
  }
  throw new Error("lyingJpeg: no SOF marker");
}

export async function jpegBomb(): Promise<Bomb> {
  return {
    name: "lie.jpg",
    bytes: await lyingJpeg(10_000, 10_000),
    before: "64x48 data under a 10000x10000 header: accepted, padded, at 970 MB",
  };
}

// ---------------------------------------------------------------------------------------------------------
// TIFF

/**
 * A classic little-endian TIFF of the given pages, 8-bit grey of one value each, Deflate-compressed (so sharp
 * decodes them); pages alike share one strip, so 2,000 pages take a few hundred kilobytes.
 */
export function tiffOfPages(pages: readonly { width: number; height: number; value?: number }[]): Uint8Array {
  const strips = new Map<string, { at: number; bytes: Uint8Array }>();
  let at = 8;
  for (const p of pages) {
    const key = `${p.width}x${p.height}:${p.value ?? 90}`;
    if (strips.has(key)) continue;
    const bytes = zlib.deflateSync(new Uint8Array(p.width * p.height).fill(p.value ?? 90));
    strips.set(key, { at, bytes });
    at += bytes.length + (bytes.length & 1);
  }
  const entries = 9;
  const ifdSize = 2 + entries * 12 + 4;
  const firstIfd = at;
  const out = new Uint8Array(firstIfd + pages.length * ifdSize);
  const view = new DataView(out.buffer);
  out.set([0x49, 0x49, 42, 0]);
  view.setUint32(4, firstIfd, true);
  for (const s of strips.values()) out.set(s.bytes, s.at);
  pages.forEach((p, k) => {
    const ifd = firstIfd + k * ifdSize;
    const strip = strips.get(`${p.width}x${p.height}:${p.value ?? 90}`)!;
    view.setUint16(ifd, entries, true);
    const tags: [number, number, number][] = [
      [256, 3, p.width],
      [257, 3, p.height],
      [258, 3, 8],
      [259, 3, 8], // Deflate
      [262, 3, 1],
      [273, 4, strip.at],
      [277, 3, 1],
      [278, 3, p.height],
      [279, 4, strip.bytes.length],
    ];
    tags.forEach(([tag, type, value], i) => {
      const e = ifd + 2 + i * 12;
      view.setUint16(e, tag, true);
      view.setUint16(e + 2, type, true);
      view.setUint32(e + 4, 1, true);
      if (type === 3) view.setUint16(e + 8, value, true);
      else view.setUint32(e + 8, value, true);
    });
    view.setUint32(ifd + 2 + entries * 12, k + 1 < pages.length ? ifd + ifdSize : 0, true);
  });
  return out;
}

/** `pages` pages of `width` x `height`, all alike. */
export function manyPageTiff(pages: number, width = 64, height = 64): Uint8Array {
  return tiffOfPages(Array.from({ length: pages }, () => ({ width, height })));
}

export function tiffPagesBomb(): Bomb {
  return {
    name: "pages.tif",
    bytes: manyPageTiff(2000),
    before: "2,000 pages, each one a new sharp decode: not finished after 60 s",
  };
}

// ---------------------------------------------------------------------------------------------------------
// DICOM

function dicomElement(group: number, element: number, vr: string, value: Uint8Array): Uint8Array {
  const long = ["OB", "OW", "OF", "SQ", "UT", "UN"].includes(vr);
  const head = new Uint8Array(long ? 12 : 8);
  const view = new DataView(head.buffer);
  view.setUint16(0, group, true);
  view.setUint16(2, element, true);
  head[4] = vr.charCodeAt(0);
  head[5] = vr.charCodeAt(1);
  if (long) view.setUint32(8, value.length, true);
  else view.setUint16(6, value.length, true);
  return concat([head, value]);
}

const text = (s: string, pad = " "): Uint8Array => Buffer.from(s.length % 2 === 0 ? s : s + pad, "latin1");
const us = (v: number): Uint8Array => Uint8Array.from(u16le(v));

/**
 * The data set of an 8-bit MONOCHROME2 image (explicit VR little endian) up to and including the Pixel Data
 * element's header, which declares `pixelBytes` bytes of value.
 */
function dicomImageHead(rows: number, cols: number, frames: number, pixelBytes: number): Uint8Array {
  const pixelHead = new Uint8Array(12);
  const view = new DataView(pixelHead.buffer);
  view.setUint16(0, 0x7fe0, true);
  view.setUint16(2, 0x0010, true);
  pixelHead.set([0x4f, 0x42], 4); // OB
  view.setUint32(8, pixelBytes, true);
  return concat([
    dicomElement(0x0008, 0x0016, "UI", text("1.2.840.10008.5.1.4.1.1.6.1", "\0")),
    dicomElement(0x0008, 0x0018, "UI", text("1.2.3.4.5.6.7", "\0")),
    dicomElement(0x0028, 0x0002, "US", us(1)),
    dicomElement(0x0028, 0x0004, "CS", text("MONOCHROME2")),
    dicomElement(0x0028, 0x0008, "IS", text(String(frames))),
    dicomElement(0x0028, 0x0010, "US", us(rows)),
    dicomElement(0x0028, 0x0011, "US", us(cols)),
    dicomElement(0x0028, 0x0100, "US", us(8)),
    dicomElement(0x0028, 0x0101, "US", us(8)),
    dicomElement(0x0028, 0x0102, "US", us(7)),
    dicomElement(0x0028, 0x0103, "US", us(0)),
    pixelHead,
  ]);
}

/** Preamble, "DICM" and the file meta group naming `transferSyntax`. */
function dicomPart10Head(transferSyntax: string): Uint8Array {
  const meta = concat([
    dicomElement(0x0002, 0x0001, "OB", Uint8Array.from([0, 1])),
    dicomElement(0x0002, 0x0002, "UI", text("1.2.840.10008.5.1.4.1.1.6.1", "\0")),
    dicomElement(0x0002, 0x0003, "UI", text("1.2.3.4.5.6.7", "\0")),
    dicomElement(0x0002, 0x0010, "UI", text(transferSyntax, "\0")),
  ]);
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, meta.length, true);
  const preamble = new Uint8Array(132);
  preamble.set([0x44, 0x49, 0x43, 0x4d], 128);
  return concat([preamble, dicomElement(0x0002, 0x0000, "UL", length), meta]);
}

/**
 * A Deflated Explicit VR Little Endian DICOM of `frames` frames of `rows` x `cols` zeros, all of them really
 * in the deflate stream, then `trailing` more zero bytes after the Pixel Data: raw deflate blocks of one zero
 * MiB (each ends byte-aligned by a sync flush and refers only to itself) repeated, so the file is about a
 * thousandth of what it inflates to and builds in milliseconds.
 */
export function deflatedDicom(rows: number, cols: number, frames: number, trailing = 0): Uint8Array {
  const pixelBytes = rows * cols * frames;
  const sync = { finishFlush: zlib.constants.Z_SYNC_FLUSH, level: 9 };
  const head = zlib.deflateRawSync(dicomImageHead(rows, cols, frames, pixelBytes), sync);
  const MiB = 1 << 20;
  const zeros = pixelBytes + trailing;
  const chunk = zlib.deflateRawSync(new Uint8Array(MiB), sync);
  const whole = Math.floor(zeros / MiB);
  const tail = zlib.deflateRawSync(new Uint8Array(zeros - whole * MiB), { level: 9 });
  const parts: Uint8Array[] = [dicomPart10Head("1.2.840.10008.1.2.1.99"), head];
  for (let i = 0; i < whole; i++) parts.push(chunk);
  parts.push(tail);
  return concat(parts);
}

export function dicomBomb(): Bomb {
  return {
    name: "deflated.dcm",
    bytes: deflatedDicom(10_000, 10_000, 4),
    before: "400 MB of pixels from a 400 KB file: 52 s at 4.4 GB, exit 0",
  };
}

/** An uncompressed (explicit little endian) DICOM whose Pixel Data holds `stored` of the bytes it needs. */
export function shortDicom(rows: number, cols: number, frames: number, stored: number): Uint8Array {
  const head = dicomImageHead(rows, cols, frames, stored + (stored & 1));
  return concat([dicomPart10Head("1.2.840.10008.1.2.1"), head, new Uint8Array(stored + (stored & 1))]);
}

/** Every file bomb, generated. */
export async function fileBombs(): Promise<Bomb[]> {
  return [dicomBomb(), gifCanvasBomb(), gifManyFramesBomb(), await jpegBomb(), tiffPagesBomb()];
}
