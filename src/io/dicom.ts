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
 * The pixels themselves (frame readers, the display rule) are in dicom-pixels.ts.
 */
import dicomParser from "dicom-parser";
import { fileError } from "../core/errors.js";
import { declaredBudget, inflateDataSet } from "./dicom-budget.js";
import { checkBudget, type DecodeLimits } from "./limits.js";
import type { PixelSpacing } from "./image.js";
import {
  displayFrames,
  jpegFrameReader,
  nativeFrameReader,
  parserReason,
  type DicomFrame,
  type PixelFormat,
} from "./dicom-pixels.js";

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

export type { DicomFrame } from "./dicom-pixels.js";

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

function tsLabel(uid: string): string {
  const name = TS_NAMES[uid];
  return name ? `${name} (${uid})` : uid;
}

/**
 * Decodes a DICOM Part 10 file held in memory. `maxFrames` limits how many frames are decoded; the file as a
 * whole (all its frames) must be within `limits`. Steps: the data set (header, inflated where deflated),
 * its pixel format, a reader of one frame's stored samples (JPEG or native), and the 8-bit frames.
 */
export async function decodeDicom(
  bytes: Uint8Array,
  file: string,
  opts: { maxFrames?: number; limits: DecodeLimits },
): Promise<DecodedDicom> {
  const fail = (problem: string): never => {
    throw fileError(file, problem);
  };
  const { ds, transferSyntax } = await parseDataSet(bytes, file, opts.limits, fail);
  const pixel = ds.elements.x7fe00010;
  if (!pixel) return fail("DICOM without Pixel Data (7FE0,0010): not an image");
  const fmt = pixelFormat(ds, transferSyntax, fail);
  if (!fmt.jpeg && pixel.encapsulatedPixelData)
    fail(`corrupt DICOM: encapsulated Pixel Data in ${tsLabel(transferSyntax)}`);
  checkBudget(file, declaredBudget(ds, bytes.length), opts.limits);
  const readFrame = fmt.jpeg
    ? jpegFrameReader(ds, pixel, fmt, file, opts.limits, fail)
    : nativeFrameReader(ds, pixel, fmt, fail);
  const nFrames = Math.min(fmt.frameCount, opts.maxFrames ?? Infinity);
  return {
    width: fmt.cols,
    height: fmt.rows,
    bitDepth: fmt.jpeg ? 8 : fmt.bitsStored,
    lossy: fmt.lossy,
    frameCount: fmt.frameCount,
    frames: await displayFrames(ds, fmt, readFrame, nFrames),
    transferSyntax,
    ...pixelSpacingOf(ds),
  };
}

/** The data set: the Part 10 header's transfer syntax checked, a deflated body inflated within the budget. */
async function parseDataSet(
  bytes: Uint8Array,
  file: string,
  limits: DecodeLimits,
  fail: (problem: string) => never,
): Promise<{ ds: dicomParser.DataSet; transferSyntax: string }> {
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
    const inflated = await inflateDataSet(buffer, file, limits);
    // Elements after the pixels were left deflated: stop the parse at the pixel data.
    parseOptions = {
      inflater: () => inflated.bytes,
      ...(inflated.complete ? {} : { untilTag: "x7fe00010" }),
    };
  }
  try {
    return { ds: dicomParser.parseDicom(buffer, parseOptions), transferSyntax };
  } catch (e) {
    return fail(`corrupt or truncated DICOM (${parserReason(e)})`);
  }
}

/** The image's pixel format from its elements, refused (one line) where nerveseg does not read it. */
function pixelFormat(
  ds: dicomParser.DataSet,
  transferSyntax: string,
  fail: (problem: string) => never,
): PixelFormat {
  const rows = ds.uint16("x00280010") ?? 0;
  const cols = ds.uint16("x00280011") ?? 0;
  if (rows === 0 || cols === 0) fail(`DICOM image of ${cols}x${rows} pixels (Rows/Columns missing or zero)`);
  const spp = ds.uint16("x00280002") ?? 1;
  const photometric = (ds.string("x00280004") ?? (spp === 1 ? "MONOCHROME2" : "")).trim().toUpperCase();
  const bitsAllocated = ds.uint16("x00280100") ?? 0;
  const bitsStored = ds.uint16("x00280101") ?? bitsAllocated;
  const highBit = ds.uint16("x00280102") ?? bitsStored - 1;
  const declaredFrames = ds.intString("x00280008") ?? 1;
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
  return {
    rows,
    cols,
    spp,
    photometric,
    bitsAllocated,
    bitsStored,
    highBit,
    signed: (ds.uint16("x00280103") ?? 0) === 1,
    planar: ds.uint16("x00280006") ?? 0,
    frameCount: Number.isInteger(declaredFrames) && declaredFrames >= 1 ? declaredFrames : 1,
    jpeg,
    lossy: jpeg || (ds.string("x00282110") ?? "").trim() === "01",
    littleEndian: transferSyntax !== TS.explicitBE,
  };
}

/** Pixel Spacing (0028,0030), row then column in mm, as stored: a malformed value reads as NaN. */
function pixelSpacingOf(ds: dicomParser.DataSet): { pixelSpacing?: PixelSpacing } {
  if (!ds.elements.x00280030) return {};
  const values = (ds.string("x00280030") ?? "").split("\\").map((v) => (v.trim() === "" ? NaN : Number(v)));
  const [row, col] = values.length === 2 ? values : [NaN, NaN];
  return { pixelSpacing: { row, col } };
}
