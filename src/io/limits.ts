/**
 * What one input file may ask of memory and time, decided from its header before any pixel is decoded.
 *
 * A small file can declare an enormous image (a 2 KB JPEG saying 10000x10000, a 190-byte GIF of eleven frames
 * on a 6000x6000 canvas, a deflated DICOM of gigabytes): every reader works out from the header the frames,
 * pixels and sample bytes the file would expand to, and refuses it, with one line naming the file, the limit
 * and the flag that raises it, before allocating or inflating anything big. Decoders then stop at what the
 * header promised (a stream that would expand further is an error, as is one that holds less).
 *
 * The limits are the process's (set once by the CLI from its flags, or by a library user), because the
 * readers are reached from every room (prepare, predict, evaluate, the viewer); a call may also pass its own.
 * Worker threads receive them from the decode pool.
 */
import { constants as bufferConstants } from "node:buffer";
import { fileError, UserError } from "../core/errors.js";

export interface DecodeLimits {
  /** Pixels of one frame (width × height). */
  maxPixels: number;
  /** Frames (pages) of one file. */
  maxFrames: number;
  /** Pixels of all the frames of one file together. */
  maxTotalPixels: number;
  /**
   * Decoded sample bytes per byte of the file: how far compressed data may expand. Deflate cannot pass 1,032x
   * and GIF/TIFF LZW about 1,400x even on an all-zero mask, so real files stay under it; a header promising
   * more than its bytes can hold is refused before decoding.
   */
  maxExpansion: number;
}

/**
 * Defaults sized for ultrasound work on a machine of a few GiB: frames up to 25 Mpx (5000x5000; scanners
 * write under 1 Mpx, the working size is 580x420), cines up to 1,000 frames, 250 Mpx per file (about 1 GiB
 * of decoded frames at its peak). Each is raised by its flag.
 */
export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze({
  maxPixels: 25_000_000,
  maxFrames: 1_000,
  maxTotalPixels: 250_000_000,
  maxExpansion: 2_000,
});

/** The CLI flag that raises each limit (named in every refusal). */
export const LIMIT_FLAGS: Readonly<Record<keyof DecodeLimits, string>> = Object.freeze({
  maxPixels: "--max-pixels",
  maxFrames: "--max-frames",
  maxTotalPixels: "--max-total-pixels",
  maxExpansion: "--max-expansion",
});

let current: DecodeLimits = { ...DEFAULT_DECODE_LIMITS };

/** The limits in force in this process (a copy). */
export function decodeLimits(): DecodeLimits {
  return { ...current };
}

/** Sets some or all of the process's limits (the rest keep their value); each must be a positive number. */
export function setDecodeLimits(limits: Partial<DecodeLimits>): void {
  const next = { ...current };
  for (const key of Object.keys(LIMIT_FLAGS) as (keyof DecodeLimits)[]) {
    const v = limits[key];
    if (v === undefined) continue;
    if (typeof v !== "number" || !(v > 0) || Number.isNaN(v))
      throw new UserError(`${LIMIT_FLAGS[key]} must be a positive number, got ${String(v)}`);
    next[key] = v;
  }
  current = next;
}

/** Limits given by a caller, completed from the process's. */
export function limitsOf(given?: Partial<DecodeLimits>): DecodeLimits {
  return given ? { ...current, ...given } : decodeLimits();
}

/** What a file's header says it will decode to. */
export interface DecodeBudget {
  /** Frames the file holds (all of them count, whatever part a command reads). */
  frames: number;
  /** The largest frame. */
  width: number;
  height: number;
  /** Pixels of all frames together. */
  totalPixels: number;
  /** Bytes of the samples the decoder produces, at their stored depth (what compressed data expands to). */
  sampleBytes: number;
  /** Bytes of the file (or of the compressed data the samples come from). */
  fileBytes: number;
}

const n = (v: number): string => v.toLocaleString("en-US");

/** The one-line refusal of a file over a limit, naming the limit and the flag that raises it. */
export function overLimit(
  file: string,
  what: string,
  key: keyof DecodeLimits,
  limits: DecodeLimits,
): UserError {
  const unit = {
    maxPixels: "pixels per frame",
    maxFrames: "frames per file",
    maxTotalPixels: "pixels per file",
    maxExpansion: "x expansion",
  }[key];
  const limit = key === "maxExpansion" ? `${n(limits[key])}x expansion` : `${n(limits[key])} ${unit}`;
  return fileError(file, `${what}: over the limit of ${limit} (raise it with ${LIMIT_FLAGS[key]})`);
}

/** Refuses a frame of `width` x `height` over the per-frame limit. */
export function checkFrameSize(file: string, width: number, height: number, limits: DecodeLimits): void {
  if (width * height > limits.maxPixels)
    throw overLimit(
      file,
      `image too large (${width}x${height} = ${n(width * height)} pixels)`,
      "maxPixels",
      limits,
    );
}

/** Refuses a file whose header asks for more than the limits allow; call it before decoding anything. */
export function checkBudget(file: string, b: DecodeBudget, limits: DecodeLimits): void {
  checkFrameSize(file, b.width, b.height, limits);
  if (b.frames > limits.maxFrames) throw overLimit(file, `${n(b.frames)} frames`, "maxFrames", limits);
  if (b.totalPixels > limits.maxTotalPixels)
    throw overLimit(
      file,
      `${n(b.frames)} frame(s) of up to ${b.width}x${b.height}, ${n(b.totalPixels)} pixels in all`,
      "maxTotalPixels",
      limits,
    );
  if (b.sampleBytes > limits.maxExpansion * Math.max(1, b.fileBytes))
    throw overLimit(
      file,
      `the header promises ${n(Math.ceil(b.sampleBytes))} bytes of samples from ${n(b.fileBytes)} bytes (${n(Math.round(b.sampleBytes / Math.max(1, b.fileBytes)))}x)`,
      "maxExpansion",
      limits,
    );
}

/**
 * The largest file an image within the limits can be: 8 bytes per pixel (16-bit RGBA, uncompressed) of the
 * file's pixel limit, plus 64 MiB of metadata; bounded by what one Buffer can hold. Image files are read whole,
 * so this caps that read.
 */
export function maxImageFileBytes(limits: DecodeLimits): number {
  return Math.min(limits.maxTotalPixels * 8 + 64 * 2 ** 20, bufferConstants.MAX_LENGTH);
}

/**
 * Bytes a DICOM data set may inflate to before its header is known: its samples (at most 3 bytes per pixel:
 * 16-bit grey or 8-bit colour) plus 64 MiB of other elements, and no more than the expansion limit allows.
 */
export function maxInflatedBytes(compressedBytes: number, limits: DecodeLimits): number {
  return Math.min(limits.maxTotalPixels * 3 + 64 * 2 ** 20, limits.maxExpansion * compressedBytes);
}

/**
 * For long decodes on the main thread: the returned function, called between frames, waits one turn of the
 * event loop once `everyMs` have passed since the last, so that a signal (Ctrl-C, SIGTERM) is handled within
 * a second even in the middle of a many-frame file.
 */
export function yielder(everyMs = 50): () => Promise<void> {
  let last = Date.now();
  return async () => {
    if (Date.now() - last < everyMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    last = Date.now();
  };
}
