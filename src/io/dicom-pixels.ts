// The pixels of a DICOM data set (see dicom.ts for the file): readers of one frame's stored samples — JPEG
// Baseline through sharp, or native samples unpacked from their bits — and the 8-bit display frames (the
// rescale, window or range stretch, MONOCHROME1 inversion, colour as luma).
import dicomParser from "dicom-parser";
import { yielder, type DecodeLimits } from "./limits.js";
import { lumaOfRgb } from "./luma.js";
import { decodeWithSharp } from "./sharp-decode.js";

export interface DicomFrame {
  image: Uint8Array;
  labels?: Uint8Array | Uint16Array;
  colour: "grey" | "rgb";
}

/** dicom-parser throws strings, Errors, or {exception, dataSet}; one short line from any of them. */
export function parserReason(e: unknown): string {
  let inner: unknown = e;
  if (inner && typeof inner === "object" && "exception" in inner)
    inner = (inner as { exception: unknown }).exception;
  const text = inner instanceof Error ? inner.message : String(inner);
  if (/buffer overrun|past end|overread/i.test(text)) return "data runs past the end of the file";
  const cleaned = text
    .replace(/^dicomParser[.:][\w.]*:?\s*-?\s*/, "")
    .replace(/^(little|big)EndianByteArrayParser\.\w+:\s*/, "")
    .replace(/[^\x20-\x7e]/g, "?");
  return cleaned.length > 160 ? `${cleaned.slice(0, 157)}...` : cleaned;
}

/** The pixel format of a data set's image, as its elements declare it (checked in pixelFormat). */
export interface PixelFormat {
  rows: number;
  cols: number;
  /** Samples per pixel: 1 (grey) or 3 (colour). */
  spp: number;
  photometric: string;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  signed: boolean;
  planar: number;
  frameCount: number;
  jpeg: boolean;
  lossy: boolean;
  /** Native samples are little endian (all but Explicit VR Big Endian). */
  littleEndian: boolean;
}

/** One frame's stored samples: grey values (unsigned or signed) or interleaved 8-bit RGB. */
export type FrameReader = (k: number) => Promise<Int32Array | Uint8Array>;

/** Frames of encapsulated JPEG Baseline pixel data, decoded by sharp one at a time. */
export function jpegFrameReader(
  ds: dicomParser.DataSet,
  pixel: dicomParser.Element,
  fmt: PixelFormat,
  file: string,
  limits: DecodeLimits,
  fail: (problem: string) => never,
): FrameReader {
  const { rows, cols, spp, frameCount } = fmt;
  const n = rows * cols;
  if (!pixel.encapsulatedPixelData || !pixel.fragments || pixel.fragments.length === 0)
    fail("corrupt DICOM: JPEG transfer syntax but the Pixel Data is not encapsulated");
  const fragments = pixel.fragments!;
  let offsets: number[] | null = null;
  return async (k) => {
    let frameBytes: Uint8Array;
    try {
      if (frameCount === 1) {
        frameBytes = dicomParser.readEncapsulatedPixelDataFromFragments(ds, pixel, 0, fragments.length);
      } else if (fragments.length === frameCount) {
        frameBytes = dicomParser.readEncapsulatedPixelDataFromFragments(ds, pixel, k, 1);
      } else {
        offsets ??=
          pixel.basicOffsetTable && pixel.basicOffsetTable.length === frameCount
            ? pixel.basicOffsetTable
            : dicomParser.createJPEGBasicOffsetTable(ds, pixel);
        frameBytes = dicomParser.readEncapsulatedImageFrame(ds, pixel, k, offsets);
      }
    } catch (e) {
      return fail(`corrupt DICOM: cannot find the JPEG data of frame ${k + 1} (${parserReason(e)})`);
    }
    const dec = await decodeWithSharp(frameBytes, file, `JPEG of DICOM frame ${k + 1}`, { limits });
    if (dec.width !== cols || dec.height !== rows)
      fail(`corrupt DICOM: frame ${k + 1} is a ${dec.width}x${dec.height} JPEG in a ${cols}x${rows} image`);
    if (dec.channels === 3)
      // A colour JPEG in a grey image (found by fuzzing: it overran the frame) is read as its luma.
      return spp === 3 ? (dec.data as Uint8Array) : Int32Array.from(lumaOfRgb(dec.data as Uint8Array, n));
    if (spp === 1) return Int32Array.from(dec.data);
    // A grey JPEG in a colour file: its grey values serve as the luma.
    const rgb = new Uint8Array(3 * n);
    for (let i = 0; i < n; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = dec.data[i]!;
    return rgb;
  };
}

/** Frames of native (uncompressed) pixel data: grey samples unpacked from their bits, or colour as RGB. */
export function nativeFrameReader(
  ds: dicomParser.DataSet,
  pixel: dicomParser.Element,
  fmt: PixelFormat,
  fail: (problem: string) => never,
): FrameReader {
  const { rows, cols, spp, photometric, bitsAllocated, bitsStored, highBit, signed, planar, frameCount } =
    fmt;
  const n = rows * cols;
  // dicom-parser may have inflated a deflated data set into a new array: pixel offsets refer to that one.
  const data = ds.byteArray as Uint8Array;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const { littleEndian } = fmt;
  const samplesPerFrame = photometric === "YBR_FULL_422" ? 2 * n : n * spp;
  const needBytes = Math.ceil((samplesPerFrame * bitsAllocated * frameCount) / 8);
  const available = Math.min(pixel.length, data.length - pixel.dataOffset);
  if (available < needBytes)
    fail(
      `truncated DICOM: Pixel Data holds ${Math.max(0, available)} bytes, ${frameCount} frame(s) of ${cols}x${rows}x${spp} at ${bitsAllocated} bits need ${needBytes}`,
    );
  const base = pixel.dataOffset;
  // Explicit VR Big Endian with 8-bit samples in an OW element stores byte pairs swapped.
  const swap8 = !littleEndian && bitsAllocated === 8 && pixel.vr === "OW";
  const byteAt = (i: number): number => data[base + (swap8 ? i ^ 1 : i)]!;
  const mask = 2 ** bitsStored - 1;
  const shift = highBit + 1 - bitsStored;
  const signBit = 2 ** (bitsStored - 1);
  return async (k) => {
    if (spp === 3) {
      const out = new Uint8Array(3 * n);
      const off = k * samplesPerFrame;
      if (photometric === "YBR_FULL_422") {
        for (let i = 0; i < n; i += 2) {
          const at = off + 2 * i;
          const cb = byteAt(at + 2);
          const cr = byteAt(at + 3);
          ybrToRgb(byteAt(at), cb, cr, out, 3 * i);
          ybrToRgb(byteAt(at + 1), cb, cr, out, 3 * i + 3);
        }
      } else {
        const sample = (i: number, c: number): number => byteAt(off + (planar === 1 ? c * n + i : 3 * i + c));
        for (let i = 0; i < n; i++) {
          if (photometric === "RGB") {
            out[3 * i] = sample(i, 0);
            out[3 * i + 1] = sample(i, 1);
            out[3 * i + 2] = sample(i, 2);
          } else ybrToRgb(sample(i, 0), sample(i, 1), sample(i, 2), out, 3 * i);
        }
      }
      return out;
    }
    const values = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let raw: number;
      if (bitsAllocated === 1) {
        const bit = k * n + i;
        raw = (data[base + (bit >> 3)]! >> (bit & 7)) & 1;
      } else if (bitsAllocated === 8) raw = byteAt(k * n + i);
      else raw = view.getUint16(base + 2 * (k * n + i), littleEndian);
      let v = (raw >>> shift) & mask;
      if (signed && v >= signBit) v -= 2 * signBit;
      values[i] = v;
    }
    return values;
  };
}

/**
 * The 8-bit frames: colour as luma; grey through the rescale and window (or, signed without a window, a
 * stretch over the actual range), MONOCHROME1 inverted, the stored values kept as labels. One frame at a
 * time, pausing between frames so a signal is served even in a long cine.
 */
export async function displayFrames(
  ds: dicomParser.DataSet,
  fmt: PixelFormat,
  readFrame: FrameReader,
  nFrames: number,
): Promise<DicomFrame[]> {
  const n = fmt.rows * fmt.cols;
  const frames: DicomFrame[] = [];
  const pause = yielder();
  if (fmt.spp === 3) {
    for (let k = 0; k < nFrames; k++) {
      frames.push({ image: lumaOfRgb((await readFrame(k)) as Uint8Array, n), colour: "rgb" });
      await pause();
    }
    return frames;
  }
  let range: [number, number] | null = null;
  if (fmt.signed && !hasWindow(ds)) {
    let min = Infinity;
    let max = -Infinity;
    for (let k = 0; k < nFrames; k++) {
      const values = await readFrame(k);
      for (let i = 0; i < n; i++) {
        const v = values[i]!;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      await pause();
    }
    range = [min, max];
  }
  const toDisplay = greyDisplayFunction(ds, fmt.jpeg ? 8 : fmt.bitsStored, range);
  const invert = fmt.photometric === "MONOCHROME1";
  for (let k = 0; k < nFrames; k++) {
    const values = await readFrame(k);
    const image = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const y = toDisplay(values[i]!);
      image[i] = invert ? 255 - y : y;
    }
    let labels: Uint8Array | Uint16Array | undefined;
    if (!fmt.signed) {
      labels = fmt.bitsAllocated === 16 ? new Uint16Array(n) : new Uint8Array(n);
      labels.set(values);
    }
    frames.push({ image, ...(labels ? { labels } : {}), colour: "grey" });
    await pause();
  }
  return frames;
}

/** YBR_FULL → RGB (PS3.3 C.7.6.3.1.2), rounded and clamped, written at out[at..at+2]. */
function ybrToRgb(y: number, cb: number, cr: number, out: Uint8Array, at: number): void {
  const clamp = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));
  out[at] = clamp(y + 1.402 * (cr - 128));
  out[at + 1] = clamp(y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128));
  out[at + 2] = clamp(y + 1.772 * (cb - 128));
}

/** The first Window Center and Width, when both are present and usable (w ≥ 1). */
function windowOf(ds: dicomParser.DataSet): { c: number; w: number } | null {
  const c = ds.floatString("x00281050", 0);
  const w = ds.floatString("x00281051", 0);
  if (c === undefined || w === undefined || !Number.isFinite(c) || !Number.isFinite(w) || w < 1) return null;
  return { c, w };
}

function hasWindow(ds: dicomParser.DataSet): boolean {
  return windowOf(ds) !== null;
}

/**
 * The stored-value → 8-bit display function of the module doc (steps 2 and 3, rounded; no inversion).
 * `range` is the actual min..max of signed stored values (used only without a window).
 */
function greyDisplayFunction(
  ds: dicomParser.DataSet,
  bitsStored: number,
  range: [number, number] | null,
): (v: number) => number {
  const slope = ds.floatString("x00281053") ?? 1;
  const intercept = ds.floatString("x00281052") ?? 0;
  const rescale = (v: number): number =>
    v * (Number.isFinite(slope) ? slope : 1) + (Number.isFinite(intercept) ? intercept : 0);
  const fn = (ds.string("x00281056") ?? "LINEAR").trim().toUpperCase();
  const round = (y: number): number => (y <= 0 ? 0 : y >= 255 ? 255 : Math.round(y));
  const win = windowOf(ds);
  if (win) {
    const { c, w } = win;
    if (fn === "SIGMOID") return (v) => round(255 / (1 + Math.exp((-4 * (rescale(v) - c)) / w)));
    if (fn === "LINEAR_EXACT")
      return (v) => {
        const m = rescale(v);
        return m <= c - w / 2 ? 0 : m > c + w / 2 ? 255 : round(((m - c) / w + 0.5) * 255);
      };
    return (v) => {
      const m = rescale(v);
      if (m <= c - 0.5 - (w - 1) / 2) return 0;
      if (m > c - 0.5 + (w - 1) / 2) return 255;
      return round(((m - (c - 0.5)) / (w - 1) + 0.5) * 255);
    };
  }
  let lo = range ? rescale(range[0]) : rescale(0);
  let hi = range ? rescale(range[1]) : rescale(2 ** bitsStored - 1);
  if (lo > hi) [lo, hi] = [hi, lo];
  if (hi === lo) return () => 0;
  return (v) => round(((rescale(v) - lo) / (hi - lo)) * 255);
}
