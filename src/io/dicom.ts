/**
 * DICOM (Part 10 files) to 8-bit grey frames, through dicom-parser for the data set and our own pixel code.
 * Only Part 10 files are recognised (128-byte preamble, "DICM", file meta group); bare data sets are not.
 *
 * Transfer syntaxes read: Implicit VR Little Endian, Explicit VR Little Endian, Deflated Explicit VR Little
 * Endian, Explicit VR Big Endian, and JPEG Baseline (1.2.840.10008.1.2.4.50, each frame's JPEG decoded by
 * sharp). Every other one (JPEG lossless/extended, JPEG-LS, JPEG 2000, HTJ2K, RLE Lossless, MPEG/HEVC video, ...)
 * is refused with an error naming it.
 *
 * Pixel layouts read: Samples per Pixel 1 with MONOCHROME2 or MONOCHROME1 and Bits Allocated 1, 8 or 16
 * (Bits Stored / High Bit honoured, Pixel Representation unsigned or signed); Samples per Pixel 3 with RGB,
 * YBR_FULL or YBR_FULL_422, Bits Allocated 8, Planar Configuration 0 (interleaved) or 1 (planes). Number of
 * Frames > 1 gives one frame each. Refused: PALETTE COLOR, other photometrics, Bits Allocated 32, 16-bit colour.
 *
 * Grey to 8-bit, in this order (the DICOM display pipeline, PS3.3 C.11):
 *  1. the stored value v (masked to Bits Stored below High Bit, sign-extended when Pixel Representation is 1);
 *  2. the modality rescale m = v × Rescale Slope + Rescale Intercept (1 and 0 when absent);
 *  3. if a Window Center c and Width w are present (the first of each when there are several, w ≥ 1), the VOI
 *     function named by VOI LUT Function: LINEAR (default; PS3.3 C.11.2.1.2.1: m ≤ c − 0.5 − (w − 1)/2 → 0,
 *     m > c − 0.5 + (w − 1)/2 → 255, else ((m − (c − 0.5)) / (w − 1) + 0.5) × 255), LINEAR_EXACT
 *     ((m − c)/w + 0.5) × 255 clamped, or SIGMOID 255 / (1 + exp(−4 (m − c)/w));
 *     otherwise a linear stretch of the full range to 0..255: for unsigned data the range of m over stored
 *     values 0 .. 2^BitsStored − 1 (so 8-bit data without a rescale stays as it is), for signed data the
 *     actual min..max of m over the frames read (all 0 when they are equal);
 *  4. rounding to the nearest integer, then for MONOCHROME1 inversion (255 − y), as 0 is white there.
 * A VOI LUT Sequence or Modality LUT Sequence, if any, is not applied.
 * Colour: YBR_FULL(_422) → RGB with the formulas of PS3.3 C.7.6.3.1.2 (R = Y + 1.402 (Cr − 128),
 * G = Y − 0.344136 (Cb − 128) − 0.714136 (Cr − 128), B = Y + 1.772 (Cb − 128), rounded and clamped), then BT.601
 * luma as every colour reader here. For JPEG frames the JPEG decoder already returns RGB (or grey); grey JPEG
 * frames go through steps 2-4 above with Bits Stored taken as 8.
 * The raw labels of a grey frame are the stored values v (before rescale, window and inversion); signed and
 * colour frames have none. A file counts as lossy when its transfer syntax is JPEG Baseline or when Lossy Image
 * Compression (0028,2110) is "01" (the pixels went through a lossy codec before being stored).
 *
 * Over 400 lines: one format's whole reading rule (transfer syntaxes, photometric models, bit layouts, VOI
 * window) kept together, so what a DICOM frame becomes can be read in one place.
 */
import dicomParser from "dicom-parser";
import { fileError } from "../core/errors.js";
import { declaredBudget, inflateDataSet } from "./dicom-budget.js";
import { checkBudget, yielder, type DecodeLimits } from "./limits.js";
import type { PixelSpacing } from "./image.js";
import { lumaOfRgb } from "./luma.js";
import { decodeWithSharp } from "./sharp-decode.js";

const TS = {
  implicitLE: "1.2.840.10008.1.2",
  explicitLE: "1.2.840.10008.1.2.1",
  deflatedLE: "1.2.840.10008.1.2.1.99",
  explicitBE: "1.2.840.10008.1.2.2",
  jpegBaseline: "1.2.840.10008.1.2.4.50",
} as const;

/** Names of the transfer syntaxes a user is likely to meet, for refusals. */
const TS_NAMES: Record<string, string> = {
  [TS.implicitLE]: "Implicit VR Little Endian",
  [TS.explicitLE]: "Explicit VR Little Endian",
  [TS.deflatedLE]: "Deflated Explicit VR Little Endian",
  [TS.explicitBE]: "Explicit VR Big Endian",
  [TS.jpegBaseline]: "JPEG Baseline",
  "1.2.840.10008.1.2.4.51": "JPEG Extended (12-bit)",
  "1.2.840.10008.1.2.4.57": "JPEG Lossless",
  "1.2.840.10008.1.2.4.70": "JPEG Lossless SV1",
  "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
  "1.2.840.10008.1.2.4.81": "JPEG-LS Near-Lossless",
  "1.2.840.10008.1.2.4.90": "JPEG 2000 Lossless",
  "1.2.840.10008.1.2.4.91": "JPEG 2000",
  "1.2.840.10008.1.2.4.92": "JPEG 2000 Part 2 Lossless",
  "1.2.840.10008.1.2.4.93": "JPEG 2000 Part 2",
  "1.2.840.10008.1.2.4.100": "MPEG2",
  "1.2.840.10008.1.2.4.101": "MPEG2 High Level",
  "1.2.840.10008.1.2.4.102": "MPEG-4 AVC/H.264",
  "1.2.840.10008.1.2.4.103": "MPEG-4 AVC/H.264 BD",
  "1.2.840.10008.1.2.4.104": "MPEG-4 AVC/H.264 2D",
  "1.2.840.10008.1.2.4.105": "MPEG-4 AVC/H.264 3D",
  "1.2.840.10008.1.2.4.106": "MPEG-4 AVC/H.264 Stereo",
  "1.2.840.10008.1.2.4.107": "HEVC/H.265 Main",
  "1.2.840.10008.1.2.4.108": "HEVC/H.265 Main 10",
  "1.2.840.10008.1.2.4.110": "JPEG XL Lossless",
  "1.2.840.10008.1.2.4.111": "JPEG XL JPEG Recompression",
  "1.2.840.10008.1.2.4.112": "JPEG XL",
  "1.2.840.10008.1.2.4.201": "HTJ2K Lossless",
  "1.2.840.10008.1.2.4.202": "HTJ2K Lossless RPCL",
  "1.2.840.10008.1.2.4.203": "HTJ2K",
  "1.2.840.10008.1.2.5": "RLE Lossless",
};

const SUPPORTED: ReadonlySet<string> = new Set([
  TS.implicitLE,
  TS.explicitLE,
  TS.deflatedLE,
  TS.explicitBE,
  TS.jpegBaseline,
]);

export interface DicomFrame {
  image: Uint8Array;
  labels?: Uint8Array | Uint16Array;
  colour: "grey" | "rgb";
}

export interface DecodedDicom {
  width: number;
  height: number;
  /** Bits Stored. */
  bitDepth: number;
  lossy: boolean;
  /** Number of Frames in the file (frames may hold fewer when `maxFrames` asked for fewer). */
  frameCount: number;
  frames: DicomFrame[];
  transferSyntax: string;
  /** Pixel Spacing (0028,0030) as stored, when present. */
  pixelSpacing?: PixelSpacing;
}

/** Detects a Part 10 file: "DICM" after the 128-byte preamble. */
export function isDicom(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 132 &&
    bytes[128] === 0x44 &&
    bytes[129] === 0x49 &&
    bytes[130] === 0x43 &&
    bytes[131] === 0x4d
  );
}

/** dicom-parser throws strings, Errors, or {exception, dataSet}; one short line from any of them. */
function parserReason(e: unknown): string {
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

function tsLabel(uid: string): string {
  const name = TS_NAMES[uid];
  return name ? `${name} (${uid})` : uid;
}

/**
 * Decodes a DICOM Part 10 file held in memory. `maxFrames` limits how many frames are decoded; the file as a
 * whole (all its frames) must be within `limits`.
 */
export async function decodeDicom(
  bytes: Uint8Array,
  file: string,
  opts: { maxFrames?: number; limits: DecodeLimits },
): Promise<DecodedDicom> {
  const fail = (problem: string): never => {
    throw fileError(file, problem);
  };
  if (!isDicom(bytes)) fail("not a DICOM file (no DICM marker at offset 128)");
  // dicom-parser's deflate path needs a Buffer (it calls .copy).
  const buffer = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  let transferSyntax: string;
  try {
    const meta = dicomParser.readPart10Header(buffer);
    transferSyntax = (meta.string("x00020010") ?? "").replace(/\0/g, "").trim();
  } catch (e) {
    return fail(`corrupt or truncated DICOM header (${parserReason(e)})`);
  }
  if (!transferSyntax) fail("corrupt DICOM: the file meta header has no Transfer Syntax UID (0002,0010)");
  if (!SUPPORTED.has(transferSyntax))
    fail(
      `DICOM transfer syntax ${tsLabel(transferSyntax)} is not supported (only uncompressed little/big endian, deflated, and JPEG Baseline)`,
    );

  let parseOptions = {};
  if (transferSyntax === TS.deflatedLE) {
    const inflated = await inflateDataSet(buffer, file, opts.limits);
    // Elements after the pixels were left deflated: stop the parse at the pixel data.
    parseOptions = {
      inflater: () => inflated.bytes,
      ...(inflated.complete ? {} : { untilTag: "x7fe00010" }),
    };
  }
  let ds: dicomParser.DataSet;
  try {
    ds = dicomParser.parseDicom(buffer, parseOptions);
  } catch (e) {
    return fail(`corrupt or truncated DICOM (${parserReason(e)})`);
  }

  const pixel = ds.elements.x7fe00010;
  if (!pixel) fail("DICOM without Pixel Data (7FE0,0010): not an image");
  const rows = ds.uint16("x00280010") ?? 0;
  const cols = ds.uint16("x00280011") ?? 0;
  if (rows === 0 || cols === 0) fail(`DICOM image of ${cols}x${rows} pixels (Rows/Columns missing or zero)`);
  checkBudget(file, declaredBudget(ds, bytes.length), opts.limits);
  const spp = ds.uint16("x00280002") ?? 1;
  const photometric = (ds.string("x00280004") ?? (spp === 1 ? "MONOCHROME2" : "")).trim().toUpperCase();
  const bitsAllocated = ds.uint16("x00280100") ?? 0;
  const bitsStored = ds.uint16("x00280101") ?? bitsAllocated;
  const highBit = ds.uint16("x00280102") ?? bitsStored - 1;
  const signed = (ds.uint16("x00280103") ?? 0) === 1;
  const planar = ds.uint16("x00280006") ?? 0;
  const declaredFrames = ds.intString("x00280008") ?? 1;
  const frameCount = Number.isInteger(declaredFrames) && declaredFrames >= 1 ? declaredFrames : 1;
  const lossy = transferSyntax === TS.jpegBaseline || (ds.string("x00282110") ?? "").trim() === "01";

  const jpeg = transferSyntax === TS.jpegBaseline;
  if (spp !== 1 && spp !== 3) fail(`DICOM with ${spp} samples per pixel is not supported (only 1 or 3)`);
  const greyPhotometrics = ["MONOCHROME1", "MONOCHROME2"];
  const colourPhotometrics = jpeg
    ? ["RGB", "YBR_FULL", "YBR_FULL_422", "YBR_PARTIAL_422", "YBR_PARTIAL_420"]
    : ["RGB", "YBR_FULL", "YBR_FULL_422"];
  if (!(spp === 1 ? greyPhotometrics : colourPhotometrics).includes(photometric))
    fail(
      `DICOM photometric interpretation ${JSON.stringify(photometric.slice(0, 32))} with ${spp} sample(s) per pixel is not supported (only ${[...greyPhotometrics, ...colourPhotometrics].join(", ")})`,
    );
  if (![1, 8, 16].includes(bitsAllocated))
    fail(`DICOM with Bits Allocated ${bitsAllocated} is not supported (only 1, 8 or 16)`);
  if (bitsStored < 1 || bitsStored > bitsAllocated || highBit < bitsStored - 1 || highBit >= bitsAllocated)
    fail(
      `corrupt DICOM: Bits Stored ${bitsStored} / High Bit ${highBit} do not fit Bits Allocated ${bitsAllocated}`,
    );
  if (spp === 3 && bitsAllocated !== 8)
    fail(`DICOM colour with Bits Allocated ${bitsAllocated} is not supported (only 8)`);
  if (jpeg && bitsAllocated !== 8) fail(`corrupt DICOM: JPEG Baseline with Bits Allocated ${bitsAllocated}`);
  if (photometric === "YBR_FULL_422" && !jpeg && cols % 2 !== 0)
    fail(`corrupt DICOM: YBR_FULL_422 with an odd number of columns (${cols})`);

  const nFrames = Math.min(frameCount, opts.maxFrames ?? Infinity);
  const n = rows * cols;
  // dicom-parser may have inflated a deflated data set into a new array: pixel offsets refer to that one.
  const data = ds.byteArray as Uint8Array;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const littleEndian = transferSyntax !== TS.explicitBE;

  // One frame's stored samples: grey values (unsigned or signed) or interleaved RGB. Frames are read one at a
  // time so that only the 8-bit results of a long cine stay in memory.
  let readFrame: (k: number) => Promise<Int32Array | Uint8Array>;
  if (jpeg) {
    if (!pixel!.encapsulatedPixelData || !pixel!.fragments || pixel!.fragments.length === 0)
      fail("corrupt DICOM: JPEG transfer syntax but the Pixel Data is not encapsulated");
    const fragments = pixel!.fragments!;
    let offsets: number[] | null = null;
    readFrame = async (k) => {
      let frameBytes: Uint8Array;
      try {
        if (frameCount === 1) {
          frameBytes = dicomParser.readEncapsulatedPixelDataFromFragments(ds, pixel!, 0, fragments.length);
        } else if (fragments.length === frameCount) {
          frameBytes = dicomParser.readEncapsulatedPixelDataFromFragments(ds, pixel!, k, 1);
        } else {
          offsets ??=
            pixel!.basicOffsetTable && pixel!.basicOffsetTable.length === frameCount
              ? pixel!.basicOffsetTable
              : dicomParser.createJPEGBasicOffsetTable(ds, pixel!);
          frameBytes = dicomParser.readEncapsulatedImageFrame(ds, pixel!, k, offsets);
        }
      } catch (e) {
        return fail(`corrupt DICOM: cannot find the JPEG data of frame ${k + 1} (${parserReason(e)})`);
      }
      const dec = await decodeWithSharp(frameBytes, file, `JPEG of DICOM frame ${k + 1}`, {
        limits: opts.limits,
      });
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
  } else {
    if (pixel!.encapsulatedPixelData)
      fail(`corrupt DICOM: encapsulated Pixel Data in ${tsLabel(transferSyntax)}`);
    const samplesPerFrame = photometric === "YBR_FULL_422" ? 2 * n : n * spp;
    const bitsPerFrame = samplesPerFrame * bitsAllocated;
    const needBytes = Math.ceil((bitsPerFrame * frameCount) / 8);
    const available = Math.min(pixel!.length, data.length - pixel!.dataOffset);
    if (available < needBytes)
      fail(
        `truncated DICOM: Pixel Data holds ${Math.max(0, available)} bytes, ${frameCount} frame(s) of ${cols}x${rows}x${spp} at ${bitsAllocated} bits need ${needBytes}`,
      );
    const base = pixel!.dataOffset;
    // Explicit VR Big Endian with 8-bit samples in an OW element stores byte pairs swapped.
    const swap8 = !littleEndian && bitsAllocated === 8 && pixel!.vr === "OW";
    const byteAt = (i: number): number => data[base + (swap8 ? i ^ 1 : i)]!;
    const mask = 2 ** bitsStored - 1;
    const shift = highBit + 1 - bitsStored;
    const signBit = 2 ** (bitsStored - 1);
    readFrame = async (k) => {
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
          const sample = (i: number, c: number): number =>
            byteAt(off + (planar === 1 ? c * n + i : 3 * i + c));
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

  const frames: DicomFrame[] = [];
  const pause = yielder();
  if (spp === 3) {
    for (let k = 0; k < nFrames; k++) {
      frames.push({ image: lumaOfRgb((await readFrame(k)) as Uint8Array, n), colour: "rgb" });
      await pause();
    }
  } else {
    // Signed data without a window is stretched over its actual range: one pass to find it.
    let range: [number, number] | null = null;
    if (signed && !hasWindow(ds)) {
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
    const toDisplay = greyDisplayFunction(ds, jpeg ? 8 : bitsStored, range);
    const invert = photometric === "MONOCHROME1";
    for (let k = 0; k < nFrames; k++) {
      const values = await readFrame(k);
      const image = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const y = toDisplay(values[i]!);
        image[i] = invert ? 255 - y : y;
      }
      let labels: Uint8Array | Uint16Array | undefined;
      if (!signed) {
        labels = bitsAllocated === 16 ? new Uint16Array(n) : new Uint8Array(n);
        labels.set(values);
      }
      frames.push({ image, ...(labels ? { labels } : {}), colour: "grey" });
      await pause();
    }
  }
  return {
    width: cols,
    height: rows,
    bitDepth: jpeg ? 8 : bitsStored,
    lossy,
    frameCount,
    frames,
    transferSyntax,
    ...pixelSpacingOf(ds),
  };
}

/** Pixel Spacing (0028,0030), row then column in mm, as stored: a malformed value reads as NaN. */
function pixelSpacingOf(ds: dicomParser.DataSet): { pixelSpacing?: PixelSpacing } {
  if (!ds.elements.x00280030) return {};
  const values = (ds.string("x00280030") ?? "").split("\\").map((v) => (v.trim() === "" ? NaN : Number(v)));
  const [row, col] = values.length === 2 ? values : [NaN, NaN];
  return { pixelSpacing: { row, col } };
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
