/**
 * Raster decoding through sharp (libvips) for the formats it reads well: PNG (non-palette), JPEG, and the TIFF
 * variants our own reader does not handle. Returns the stored samples untouched: no colour management (an
 * embedded ICC profile is ignored), no EXIF rotation, alpha dropped, grey kept as one channel, 16-bit kept as
 * 16-bit. Conversions to 8-bit grey are done by the callers (see luma.ts).
 */
import sharp, { type FailOnOptions, type Metadata, type OutputInfo } from "sharp";
import { fileError } from "../core/errors.js";
import { checkFrameSize, type DecodeLimits } from "./limits.js";

/** Decoded samples, row-major, `channels` interleaved per pixel. */
export interface SharpPixels {
  width: number;
  height: number;
  /** 1 for grey, 3 for RGB (alpha removed; CMYK and other spaces converted to sRGB by sharp). */
  channels: 1 | 3;
  data: Uint8Array | Uint16Array;
}

/**
 * How strict libvips is with each format's damaged data. "error": truncated or corrupt data aborts, mere
 * warnings (unknown TIFF tags) do not. JPEG needs "warning": libjpeg reports scan data that ends before the
 * header's size ("premature end of data segment") only as a warning, and then pads the image with grey, so a
 * 2 KB file claiming 10000x10000 decoded "fine". (No file of the real sets in ../shared/data warns.)
 */
function failOnFor(format: string | undefined): FailOnOptions {
  return format === "jpeg" ? "warning" : "error";
}

/** One short printable line from a sharp/libvips error (its messages can span lines and name internals). */
export function sharpReason(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const line = message
    .split("\n")
    .map((s) => s.trim())
    .find((s) => s.length > 0);
  const cleaned = (line ?? "unknown error")
    .replace(/^Input (buffer|file) (has |contains )?/i, "")
    .replace(/\bVips\w*:\s*/g, "")
    .replace(/\b(vips|lib)\w*:\s*/gi, "")
    .replace(/[^\x20-\x7e]/g, "?");
  const short = cleaned.length > 160 ? `${cleaned.slice(0, 157)}...` : cleaned;
  return /read error|premature end|unexpected end|truncated/i.test(short)
    ? `truncated or corrupt data (${short})`
    : short;
}

/** What sharp's header of a (multi-page) file says: the page count and the first page's samples. */
export interface SharpHeader {
  pages: number;
  width: number;
  height: number;
  channels: number;
  bits: number;
}

/** The header of a multi-page file (TIFF) as sharp reads it, without decoding. */
export async function sharpHeader(bytes: Uint8Array, file: string, what: string): Promise<SharpHeader> {
  try {
    const meta = await sharp(bytes, { failOn: "error", limitInputPixels: 0 }).metadata();
    return {
      pages: meta.pages ?? 1,
      width: meta.width ?? 0,
      height: meta.height ?? 0,
      channels: meta.channels ?? 1,
      bits: meta.depth === "ushort" ? 16 : 8,
    };
  } catch (e) {
    throw fileError(file, `cannot decode ${what}: ${sharpReason(e)}`);
  }
}

/**
 * Decodes one page of an image with sharp. `what` names the format in errors ("JPEG", "TIFF page 3").
 * Refuses sizes over the per-frame limit and sample types other than 8/16-bit unsigned; `check` sees the
 * header (size, channels, bits per sample) before anything is decoded, to refuse what the file cannot hold.
 */
export async function decodeWithSharp(
  bytes: Uint8Array,
  file: string,
  what: string,
  opts: {
    limits: DecodeLimits;
    page?: number;
    check?: (header: { width: number; height: number; channels: number; bits: number }) => void;
  },
): Promise<SharpPixels> {
  return (await decodePagesWithSharp(bytes, file, what, { ...opts, page: opts.page ?? 0, pages: 1 }))[0]!;
}

/**
 * Decodes `pages` consecutive pages from `page` on, all of one size and sample type, in one call: libvips
 * opens the file once and stacks the pages, where a call per page would walk the directory chain again each
 * time (a 300-page TIFF took 12 s page by page, 0.3 s in one call). The frames returned share one buffer.
 */
export async function decodePagesWithSharp(
  bytes: Uint8Array,
  file: string,
  what: string,
  opts: {
    limits: DecodeLimits;
    page: number;
    pages: number;
    check?: (header: { width: number; height: number; channels: number; bits: number }) => void;
  },
): Promise<SharpPixels[]> {
  const fail = (problem: string): never => {
    throw fileError(file, problem);
  };
  const { page, pages } = opts;
  const many = pages > 1 ? { pages } : {};
  let meta: Metadata;
  try {
    // The header only (limits and failOn matter for the decode below).
    meta = await sharp(bytes, { failOn: "error", limitInputPixels: 0, page, ...many }).metadata();
  } catch (e) {
    return fail(`cannot decode ${what}: ${sharpReason(e)}`);
  }
  const width = meta.width ?? 0;
  const height = pages > 1 ? (meta.pageHeight ?? 0) : (meta.height ?? 0);
  if (!width || !height) fail(`empty image (${width}x${height})`);
  if (pages > 1 && meta.height !== height * pages) fail(`cannot decode ${what}: pages of different sizes`);
  checkFrameSize(file, width, height, opts.limits);
  if (meta.depth !== "uchar" && meta.depth !== "ushort")
    fail(`${what} with ${meta.depth} samples is not supported (only 8- and 16-bit unsigned integers)`);
  const grey = meta.space === "b-w" || meta.space === "grey16";
  const wide = meta.depth === "ushort";
  opts.check?.({ width, height, channels: meta.channels ?? 1, bits: wide ? 16 : 8 });
  let pipeline = sharp(bytes, {
    failOn: failOnFor(meta.format),
    ignoreIcc: true,
    limitInputPixels: opts.limits.maxPixels * pages,
    page,
    ...many,
  });
  if (meta.hasAlpha) pipeline = pipeline.removeAlpha();
  pipeline = pipeline
    .toColourspace(grey ? (wide ? "grey16" : "b-w") : wide ? "rgb16" : "srgb")
    .raw({ depth: wide ? "ushort" : "uchar" });
  let out: { data: Buffer; info: OutputInfo };
  try {
    out = await pipeline.toBuffer({ resolveWithObject: true });
  } catch (e) {
    return fail(`cannot decode ${what}: ${sharpReason(e)}`);
  }
  const { data, info } = out;
  const channels = info.channels;
  if ((channels !== 1 && channels !== 3) || info.width !== width || info.height !== height * pages)
    fail(`cannot decode ${what}: unexpected ${info.width}x${info.height}x${channels} output`);
  const samples = width * height * channels;
  // sharp writes 16-bit samples in the machine's byte order; an aligned copy lets a Uint16Array view them.
  let all: Uint16Array | null = null;
  if (wide) {
    const copy = new Uint8Array(samples * 2 * pages);
    copy.set(data.subarray(0, copy.length));
    all = new Uint16Array(copy.buffer);
  }
  return Array.from({ length: pages }, (_, k) => ({
    width,
    height,
    channels: channels as 1 | 3,
    data: all
      ? all.subarray(k * samples, (k + 1) * samples)
      : new Uint8Array(data.buffer, data.byteOffset + k * samples, samples),
  }));
}
