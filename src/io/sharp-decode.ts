/**
 * Raster decoding through sharp (libvips) for the formats it reads well: PNG (non-palette), JPEG, and the TIFF
 * variants our own reader does not handle. Returns the stored samples untouched: no colour management (an
 * embedded ICC profile is ignored), no EXIF rotation, alpha dropped, grey kept as one channel, 16-bit kept as
 * 16-bit. Conversions to 8-bit grey are done by the callers (see luma.ts).
 */
import sharp, { type Metadata, type OutputInfo, type Sharp } from "sharp";
import { fileError } from "../core/errors.js";

/** Decoded samples, row-major, `channels` interleaved per pixel. */
export interface SharpPixels {
  width: number;
  height: number;
  /** 1 for grey, 3 for RGB (alpha removed; CMYK and other spaces converted to sRGB by sharp). */
  channels: 1 | 3;
  data: Uint8Array | Uint16Array;
}

function open(bytes: Uint8Array, maxPixels: number, page?: number): Sharp {
  // failOn "error": truncated or corrupt data aborts; mere warnings (e.g. unknown TIFF tags) do not.
  return sharp(bytes, {
    failOn: "error",
    ignoreIcc: true,
    limitInputPixels: maxPixels,
    ...(page === undefined ? {} : { page }),
  });
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

/** The number of pages (frames) sharp sees in a multi-page file (TIFF). */
export async function sharpPageCount(bytes: Uint8Array, file: string, what: string): Promise<number> {
  try {
    const meta = await sharp(bytes, { failOn: "error" }).metadata();
    return meta.pages ?? 1;
  } catch (e) {
    throw fileError(file, `cannot decode ${what}: ${sharpReason(e)}`);
  }
}

/**
 * Decodes one page of an image with sharp. `what` names the format in errors ("JPEG", "TIFF page 3").
 * Refuses sizes over `maxPixels` and sample types other than 8/16-bit unsigned.
 */
export async function decodeWithSharp(
  bytes: Uint8Array,
  file: string,
  what: string,
  opts: { maxPixels: number; page?: number },
): Promise<SharpPixels> {
  const fail = (problem: string): never => {
    throw fileError(file, problem);
  };
  let meta: Metadata;
  try {
    meta = await open(bytes, opts.maxPixels, opts.page).metadata();
  } catch (e) {
    return fail(`cannot decode ${what}: ${sharpReason(e)}`);
  }
  const { width, height } = meta;
  if (!width || !height) fail(`empty image (${width ?? 0}x${height ?? 0})`);
  if (width * height > opts.maxPixels)
    fail(`image too large (${width}x${height} > ${opts.maxPixels} pixels)`);
  if (meta.depth !== "uchar" && meta.depth !== "ushort")
    fail(`${what} with ${meta.depth} samples is not supported (only 8- and 16-bit unsigned integers)`);
  const grey = meta.space === "b-w" || meta.space === "grey16";
  const wide = meta.depth === "ushort";
  let pipeline = open(bytes, opts.maxPixels, opts.page);
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
  if ((channels !== 1 && channels !== 3) || info.width !== width || info.height !== height)
    fail(`cannot decode ${what}: unexpected ${info.width}x${info.height}x${channels} output`);
  const samples = width * height * channels;
  if (wide) {
    // sharp writes 16-bit samples in the machine's byte order; copy to an aligned buffer to view them.
    const copy = new Uint8Array(samples * 2);
    copy.set(data.subarray(0, samples * 2));
    return { width, height, channels: channels as 1 | 3, data: new Uint16Array(copy.buffer) };
  }
  return {
    width,
    height,
    channels: channels as 1 | 3,
    data: new Uint8Array(data.buffer, data.byteOffset, samples),
  };
}
