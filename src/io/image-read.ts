/**
 * Reads any image file a user of ultrasound segmentation brings, into 8-bit grey frames.
 *
 * Formats, told apart by their first bytes (never by the file name):
 * - PNG: 1/2/4/8/16-bit grey, grey + alpha, RGB, RGBA through sharp; palette PNGs by png-palette.ts (keeps
 *   the indices).
 * - JPEG (baseline and progressive) through sharp.
 * - TIFF: our own reader (tiff.ts) for single-page 8-bit grey strips, uncompressed or LZW (the Kaggle files,
 *   and faster than sharp on them); sharp for the rest (deflate, PackBits, JPEG, 16-bit, RGB, palette, tiles,
 *   BigTIFF). A multi-page TIFF gives one frame per page; reduced-resolution pages (thumbnails) are skipped.
 * - GIF by gif.ts: every frame of an animation, composited as a viewer shows it.
 * - BMP by bmp.ts (sharp has no BMP loader).
 * - DICOM Part 10 by dicom.ts (dicom-parser): uncompressed, deflated and JPEG Baseline transfer syntaxes.
 *
 * Conversions to 8-bit grey, the same for every format:
 * - Colour → luma with ITU-R BT.601, Y = 0.299 R + 0.587 G + 0.114 B, rounded (computed by us on sharp's raw
 *   RGB output, see luma.ts); palette pixels take the luma of their palette colour; alpha is ignored (the
 *   stored colour counts, whatever its transparency).
 * - 16-bit PNG/TIFF samples → round(v / 257), the full range 0..65535 onto 0..255 (colour: luma first, at
 *   16 bits). 1/2/4-bit grey → the usual 0..255 expansion (×255, ×85, ×17).
 * - DICOM: rescale, window (or full-range stretch) and MONOCHROME1 inversion as documented in dicom.ts.
 * - No colour management: embedded ICC profiles are ignored; EXIF orientation is not applied (pixels come in
 *   stored order, so an image and its mask stay aligned).
 *
 * Errors: every bad input raises a UserError whose one-line message names the file and what is wrong (empty,
 * unknown format, truncated, corrupt, zero size, unsupported variant, not a regular file). Messages never
 * quote file bytes. Before any pixel is decoded, each reader checks what the header says the file expands to
 * against the decode limits (limits.ts: pixels per frame, frames, pixels per file, expansion), and refuses a
 * file over one with a line naming the flag that raises it; data shorter than the header are an error, never
 * a padded image.
 *
 * Over 400 lines: the one dispatch from magic bytes to every format's decoder and the shared frame rules
 * (naming, size limits, 16-bit and colour conversion), which read best side by side.
 */
import fs from "node:fs";
import path from "node:path";
import { fileError } from "../core/errors.js";
import { decodeBmp, isBmp } from "./bmp.js";
import { decodeDicom, isDicom } from "./dicom.js";
import { decodeGif, isGif } from "./gif.js";
import type { DecodedFile, ImageFormat, PixelSpacing, SampleModel } from "./image.js";
import { lumaOfRgb, to8bit } from "./luma.js";
import { PNG_SIGNATURE, decodePalettePng, readPngHeader } from "./png-palette.js";
import { checkBudget, limitsOf, maxImageFileBytes, type DecodeLimits } from "./limits.js";
import { readRegularFile } from "./read-file.js";
import {
  decodePagesWithSharp,
  decodeWithSharp,
  sharpHeader,
  type SharpHeader,
  type SharpPixels,
} from "./sharp-decode.js";
import { decodeTiff } from "./tiff.js";
import { isLossyTiffCompression, tiffPages, type TiffPageInfo } from "./tiff-pages.js";

export { maskFromDecoded, MASK_MAX_GREY_LEVELS, MASK_MAX_MID_GREY_SHARE } from "./mask-read.js";
export type { MaskOptions } from "./mask-read.js";
export type { DecodedFile, DecodedFrame, ImageFormat, PixelSpacing, SampleModel } from "./image.js";

export interface ReadImageOptions {
  /**
   * "all" (default): every frame of a multi-frame file; "first": only the first (still named `name#1` when
   * the file has several); "refuse-multi": a file with more than one frame is an error.
   */
  frames?: "all" | "first" | "refuse-multi";
  /**
   * Limits on what the file may expand to (src/io/limits.ts); missing ones are the process's. They apply to
   * the file as a whole, whatever part of it `frames` reads.
   */
  limits?: Partial<DecodeLimits>;
}

/** The file name endings treated as images (lower case, with the dot). Extensionless DICOM is sniffed. */
export const IMAGE_EXTENSIONS: readonly string[] = [
  ".png",
  ".jpg",
  ".jpeg",
  ".tif",
  ".tiff",
  ".bmp",
  ".gif",
  ".dcm",
];

const EXTENSION_FORMAT: Record<string, string> = {
  ".png": "PNG",
  ".jpg": "JPEG",
  ".jpeg": "JPEG",
  ".tif": "TIFF",
  ".tiff": "TIFF",
  ".bmp": "BMP",
  ".gif": "GIF",
  ".dcm": "DICOM file",
};

/** The format of an image held in memory, from its magic bytes; null when it is none of ours. */
export function detectFormat(bytes: Uint8Array): ImageFormat | null {
  if (isDicom(bytes)) return "dicom"; // first: a DICOM preamble may itself look like a TIFF header
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return "png";
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  if (bytes.length >= 4) {
    const [a, b, c, d] = [bytes[0], bytes[1], bytes[2], bytes[3]];
    if (a === 0x49 && b === 0x49 && (c === 42 || c === 43) && d === 0) return "tiff";
    if (a === 0x4d && b === 0x4d && c === 0 && (d === 42 || d === 43)) return "tiff";
  }
  if (isGif(bytes)) return "gif";
  if (isBmp(bytes)) return "bmp";
  return null;
}

/**
 * Whether a file should be read as an image: a name ending in one of IMAGE_EXTENSIONS (any case), or
 * otherwise a regular file with the DICOM marker "DICM" at offset 128 (DICOM files often have no extension).
 */
export function isImageFile(file: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(file).toLowerCase()) || isDicomFile(file);
}

/** Whether a file holds DICOM: the "DICM" marker at offset 128 (an unreadable file is not). */
export function isDicomFile(file: string): boolean {
  let fd: number | undefined;
  try {
    // Opening a FIFO for reading would wait for a writer: look at the type first.
    if (!fs.statSync(file).isFile()) return false;
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const head = new Uint8Array(132);
    return fs.readSync(fd, head, 0, 132, 0) === 132 && isDicom(head);
  } catch {
    return false; // reading it as an image, if that is asked, names the problem
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Reads and decodes an image file; see the module doc for formats and conversions. Only regular files are
 * read (a device, FIFO or folder is refused, also behind a symlink), and none larger than an image within the
 * limits can be.
 */
export async function readImageFile(file: string, opts: ReadImageOptions = {}): Promise<DecodedFile> {
  const limits = limitsOf(opts.limits);
  const bytes = await readRegularFile(file, {
    maxBytes: maxImageFileBytes(limits),
    reason: "the largest image within the limits: 8 bytes per pixel of --max-total-pixels",
    what: "an image file",
  });
  return decodeImage(bytes, file, { ...opts, limits });
}

interface PartialFrame {
  width: number;
  height: number;
  image: Uint8Array;
  labels?: Uint8Array | Uint16Array;
  colour: SampleModel;
}

interface Decoded {
  pixelSpacing?: PixelSpacing;
  lossy: boolean;
  bitDepth: number;
  frameCount: number;
  frames: PartialFrame[];
}

/** Decodes an image held in memory; `file` names it in messages and frame names. */
export async function decodeImage(
  bytes: Uint8Array,
  file: string,
  opts: ReadImageOptions = {},
): Promise<DecodedFile> {
  const fail = (problem: string): never => {
    throw fileError(file, problem);
  };
  if (bytes.length === 0) fail("empty file (0 bytes)");
  const format = detectFormat(bytes);
  if (!format) {
    // Name what the extension promised: "x.tif: not a TIFF (...)" reads better than a list alone.
    const named = EXTENSION_FORMAT[path.extname(file).toLowerCase()];
    return fail(
      `${named ? `not a ${named}: ` : ""}unknown image format (the contents are not PNG, JPEG, TIFF, BMP, GIF or DICOM)`,
    );
  }
  const mode = opts.frames ?? "all";
  const maxFrames = mode === "all" ? Infinity : 1;
  const limits = limitsOf(opts.limits);

  let decoded: Decoded;
  switch (format) {
    case "png":
      decoded = await readPng(bytes, file, limits);
      break;
    case "jpeg": {
      const check = (h: { width: number; height: number; channels: number; bits: number }): void =>
        checkBudget(file, budgetOf(bytes, [h]), limits);
      decoded = {
        lossy: true,
        bitDepth: 8,
        frameCount: 1,
        frames: [fromSharp(await decodeWithSharp(bytes, file, "JPEG", { limits, check }), 8)],
      };
      break;
    }
    case "tiff":
      decoded = await readTiffPages(bytes, file, mode, maxFrames, limits);
      break;
    case "gif": {
      const g = await decodeGif(bytes, file, limits, { maxFrames });
      decoded = {
        lossy: false,
        bitDepth: g.bitDepth,
        frameCount: g.frameCount,
        frames: g.frames.map((f) => ({
          width: g.width,
          height: g.height,
          image: f.luma,
          labels: f.indices,
          colour: "palette",
        })),
      };
      break;
    }
    case "bmp": {
      const b = decodeBmp(bytes, file, limits);
      decoded = {
        lossy: false,
        bitDepth: b.bitDepth,
        frameCount: 1,
        frames: [
          {
            width: b.width,
            height: b.height,
            image: b.luma,
            ...(b.indices ? { labels: b.indices } : {}),
            colour: b.indices ? "palette" : "rgb",
          },
        ],
      };
      break;
    }
    case "dicom": {
      const d = await decodeDicom(bytes, file, { maxFrames, limits });
      decoded = {
        lossy: d.lossy,
        bitDepth: d.bitDepth,
        frameCount: d.frameCount,
        frames: d.frames.map((f) => ({ width: d.width, height: d.height, ...f })),
        ...(d.pixelSpacing ? { pixelSpacing: d.pixelSpacing } : {}),
      };
      break;
    }
  }
  if (mode === "refuse-multi" && decoded.frameCount > 1)
    fail(`has ${decoded.frameCount} frames; only single-frame images are accepted here`);

  const base = path.basename(file);
  const many = decoded.frameCount > 1;
  return {
    file,
    format,
    lossy: decoded.lossy,
    bitDepth: decoded.bitDepth,
    frameCount: decoded.frameCount,
    frames: decoded.frames.map((f, k) => ({
      name: many ? `${base}#${k + 1}` : base,
      image: { width: f.width, height: f.height, data: f.image },
      ...(f.labels ? { labels: f.labels } : {}),
      colour: f.colour,
    })),
    ...(decoded.pixelSpacing ? { pixelSpacing: decoded.pixelSpacing } : {}),
  };
}

/** What frames of these sizes, channels and bits per sample ask of a file of `bytes`. */
function budgetOf(
  bytes: Uint8Array,
  frames: readonly { width: number; height: number; channels: number; bits: number }[],
): Parameters<typeof checkBudget>[1] {
  let width = 0;
  let height = 0;
  let totalPixels = 0;
  let sampleBytes = 0;
  for (const f of frames) {
    if (f.width * f.height > width * height) [width, height] = [f.width, f.height];
    totalPixels += f.width * f.height;
    sampleBytes += f.height * Math.ceil((f.width * f.channels * f.bits) / 8);
  }
  return { frames: frames.length, width, height, totalPixels, sampleBytes, fileBytes: bytes.length };
}

/** Grey or RGB samples from sharp as a frame; `sampleBits` is the stored bit depth of grey samples. */
function fromSharp(p: SharpPixels, sampleBits: number): PartialFrame {
  const n = p.width * p.height;
  const frame = { width: p.width, height: p.height };
  if (p.channels === 3) return { ...frame, image: lumaOfRgb(p.data, n), colour: "rgb" };
  if (p.data instanceof Uint16Array) {
    const image = new Uint8Array(n);
    for (let i = 0; i < n; i++) image[i] = to8bit(p.data[i]!);
    return { ...frame, image, labels: p.data, colour: "grey" };
  }
  const image = p.data;
  if (sampleBits >= 8) return { ...frame, image, labels: image, colour: "grey" };
  // 1/2/4-bit grey arrives expanded to 0..255 (×255, ×85, ×17): undo that for the raw labels.
  const step = 255 / (2 ** sampleBits - 1);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = image[i]! / step;
    if (!Number.isInteger(v)) return { ...frame, image, labels: image, colour: "grey" };
    labels[i] = v;
  }
  return { ...frame, image, labels, colour: "grey" };
}

/** Samples per pixel of each PNG colour type. */
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

async function readPng(bytes: Uint8Array, file: string, limits: DecodeLimits): Promise<Decoded> {
  const header = readPngHeader(bytes, file);
  if (header.width === 0 || header.height === 0)
    throw fileError(file, `empty image (${header.width}x${header.height})`);
  const { width, height, bitDepth } = header;
  checkBudget(
    file,
    budgetOf(bytes, [{ width, height, channels: PNG_CHANNELS[header.colourType]!, bits: bitDepth }]),
    limits,
  );
  if (header.colourType === 3) {
    const p = decodePalettePng(bytes, file, limits);
    return {
      lossy: false,
      bitDepth: p.bitDepth,
      frameCount: 1,
      frames: [{ width: p.width, height: p.height, image: p.luma, labels: p.indices, colour: "palette" }],
    };
  }
  const pixels = await decodeWithSharp(bytes, file, "PNG", { limits });
  return {
    lossy: false,
    bitDepth: header.bitDepth,
    frameCount: 1,
    frames: [fromSharp(pixels, header.bitDepth)],
  };
}

async function readTiffPages(
  bytes: Uint8Array,
  file: string,
  mode: NonNullable<ReadImageOptions["frames"]>,
  maxFrames: number,
  limits: DecodeLimits,
): Promise<Decoded> {
  const walked = tiffPages(bytes);
  const pages = typeof walked === "string" ? null : walked.filter((p) => !p.reduced);
  if (pages && pages.length === 0) throw fileError(file, "TIFF without any image page");
  if (pages) {
    const sizes = pages.map((p) => ({
      width: p.width,
      height: p.height,
      channels: p.samplesPerPixel,
      bits: p.bitsPerSample,
    }));
    checkBudget(file, budgetOf(bytes, sizes), limits);
  }
  // Our reader reads the first directory only: it serves files that have no other.
  if (pages && typeof walked !== "string" && walked.length === 1 && pages[0]!.ownReader) {
    const img = decodeTiff(bytes, file, limits);
    // WhiteIsZero is inverted by the reader; the raw labels are the stored values.
    const labels = pages[0]!.photometric === 0 ? img.data.map((v) => 255 - v) : img.data;
    return {
      lossy: false,
      bitDepth: 8,
      frameCount: 1,
      frames: [{ width: img.width, height: img.height, image: img.data, labels, colour: "grey" }],
    };
  }
  // Everything else goes to sharp, in runs of consecutive pages of one shape (pages may differ in size and
  // type; a run is one call).
  let indices: number[];
  if (pages) indices = pages.map((p) => p.index);
  else {
    // Our walk could not follow the directories: sharp may still (BigTIFF); if not, our reason is clearer.
    let header: Awaited<ReturnType<typeof sharpHeader>>;
    try {
      header = await sharpHeader(bytes, file, "TIFF");
    } catch (e) {
      if (walked === "BigTIFF") throw e;
      throw fileError(file, `truncated or corrupt TIFF (${String(walked)})`);
    }
    // Only the first page's size is known here: each page is checked again as it is decoded.
    checkBudget(file, budgetOf(bytes, Array<SharpHeader>(header.pages).fill(header)), limits);
    indices = [...Array(header.pages).keys()];
  }
  const frameCount = indices.length;
  if (frameCount === 0) throw fileError(file, "TIFF without any image page");
  if (mode === "refuse-multi" && frameCount > 1)
    throw fileError(file, `has ${frameCount} frames; only single-frame images are accepted here`);
  const wanted = indices.slice(0, maxFrames);
  const shapeOf = (k: number): string => {
    const p = pages?.[k];
    return p ? `${p.width}x${p.height}x${p.samplesPerPixel}x${p.bitsPerSample}x${p.photometric}` : "?";
  };
  const frames: PartialFrame[] = [];
  for (let k = 0; k < wanted.length;) {
    // Without our walk the shapes are unknown: one call for all, which libvips refuses if they differ.
    let end = k + 1;
    while (end < wanted.length && wanted[end] === wanted[end - 1]! + 1 && shapeOf(end) === shapeOf(k)) end++;
    const what =
      frameCount > 1 ? (end - k > 1 ? `TIFF pages ${k + 1}-${end}` : `TIFF page ${k + 1}`) : "TIFF";
    const run = await decodePagesWithSharp(bytes, file, what, { limits, page: wanted[k]!, pages: end - k });
    for (const [j, pixels] of run.entries()) frames.push(tiffFrame(pixels, pages?.[k + j]));
    k = end;
  }
  const first = pages?.[0];
  return {
    lossy: first ? isLossyTiffCompression(first.compression) : false,
    bitDepth: first ? first.bitsPerSample : frames[0]!.labels instanceof Uint16Array ? 16 : 8,
    frameCount,
    frames,
  };
}

/** One page from sharp as a frame, with its raw labels as the walk describes the page. */
function tiffFrame(pixels: SharpPixels, info: TiffPageInfo | undefined): PartialFrame {
  // Photometric 0/1 with 1/2/4 bits: undo the expansion for labels; palette TIFFs lose their indices in sharp.
  const bits = info && (info.photometric === 0 || info.photometric === 1) ? info.bitsPerSample : 8;
  const frame = fromSharp(pixels, bits);
  if (info?.photometric === 3) return { ...frame, labels: undefined, colour: "rgb" };
  if (info?.photometric === 0 && frame.labels) {
    // libvips shows WhiteIsZero inverted; the raw labels are the stored values.
    const top = 2 ** Math.min(16, bits) - 1;
    return { ...frame, labels: frame.labels.map((v) => top - v) };
  }
  return frame;
}
