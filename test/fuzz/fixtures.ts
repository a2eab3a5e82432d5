/**
 * Small valid files of every format a reader of src/io reads, each with the places of its header fields
 * (sizes, frame counts, compression, offsets, lengths) that the mutator edits. Generated, never stored.
 */
import zlib from "node:zlib";
import sharp from "sharp";
import { encodeNpyHeader } from "../../src/io/npy.js";
import { encodeSafetensors } from "../../src/io/safetensors.js";
import { encodeTiff } from "../../src/io/tiff.js";
import { encodeBmp } from "../helpers/bmp-writer.js";
import { TS, encodeDicom } from "../helpers/dicom-writer.js";
import { gifOfPixels, manyPageTiff } from "./bombs.js";

/** The readers fuzzed, by the kind of file they read. */
export const FORMATS = ["png", "jpeg", "tiff", "gif", "bmp", "dicom", "safetensors", "npy", "csv"] as const;
export type FuzzFormat = (typeof FORMATS)[number];

/** A header field: `size` bytes at `at`, an unsigned integer (or ASCII digits, `text`). */
export interface Field {
  name: string;
  at: number;
  size: 1 | 2 | 4 | 8;
  littleEndian: boolean;
  /** ASCII digits (DICOM IS, JSON numbers, .npy shapes) rather than a binary integer. */
  text?: boolean;
}

export interface Fixture {
  format: FuzzFormat;
  name: string;
  bytes: Uint8Array;
  fields: Field[];
  /** Repairs checksums after an edit (PNG chunk CRCs), so the edit reaches the decoder. */
  fixup?: (bytes: Uint8Array) => void;
}

const W = 32;
const H = 24;

function texture(w: number, h: number, channels = 1, seed = 1): Buffer {
  const out = Buffer.alloc(w * h * channels);
  for (let i = 0; i < out.length; i++) out[i] = (i * 7 + seed * 31 + ((i / (w * channels)) | 0) * 13) & 255;
  return out;
}

const raw = (channels: 1 | 3 | 4, w = W, h = H) =>
  sharp(texture(w, h, channels), { raw: { width: w, height: h, channels } });

// ---------------------------------------------------------------------------------------------------------
// Field locators

function pngFields(b: Uint8Array): Field[] {
  const fields: Field[] = [];
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let at = 8; at + 12 <= b.length;) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...b.subarray(at + 4, at + 8));
    fields.push({ name: `${type}.length`, at, size: 4, littleEndian: false });
    if (type === "IHDR") {
      fields.push({ name: "width", at: at + 8, size: 4, littleEndian: false });
      fields.push({ name: "height", at: at + 12, size: 4, littleEndian: false });
      fields.push({ name: "bitDepth", at: at + 16, size: 1, littleEndian: false });
      fields.push({ name: "colourType", at: at + 17, size: 1, littleEndian: false });
      fields.push({ name: "interlace", at: at + 20, size: 1, littleEndian: false });
    }
    at += 12 + length;
  }
  return fields;
}

/** Recomputes every chunk's CRC (as far as the chunk lengths lead). */
function pngFixCrcs(b: Uint8Array): void {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let at = 8; at + 12 <= b.length;) {
    const length = view.getUint32(at);
    if (at + 12 + length > b.length) return;
    view.setUint32(at + 8 + length, zlib.crc32(b.subarray(at + 4, at + 8 + length)) >>> 0);
    at += 12 + length;
  }
}

function gifFields(b: Uint8Array): Field[] {
  const f = (name: string, at: number, size: 1 | 2 = 2): Field => ({ name, at, size, littleEndian: true });
  const fields = [f("screenWidth", 6), f("screenHeight", 8), f("screenFlags", 10, 1)];
  let pos = 13;
  if (b[10]! & 0x80) pos += 3 << ((b[10]! & 7) + 1);
  let frame = 0;
  const skipBlocks = (): void => {
    while (pos < b.length && b[pos] !== 0) pos += 1 + b[pos]!;
    pos++;
  };
  while (pos < b.length && frame < 8) {
    const block = b[pos++];
    if (block === 0x21) {
      pos++;
      skipBlocks();
    } else if (block === 0x2c) {
      const k = frame++;
      fields.push(f(`frame${k}.left`, pos), f(`frame${k}.top`, pos + 2));
      fields.push(
        f(`frame${k}.width`, pos + 4),
        f(`frame${k}.height`, pos + 6),
        f(`frame${k}.flags`, pos + 8, 1),
      );
      const flags = b[pos + 8]!;
      pos += 9;
      if (flags & 0x80) pos += 3 << ((flags & 7) + 1);
      fields.push(f(`frame${k}.lzwCodeSize`, pos, 1), f(`frame${k}.blockLength`, pos + 1, 1));
      pos++;
      skipBlocks();
    } else break;
  }
  return fields;
}

function tiffFields(b: Uint8Array): Field[] {
  const le = b[0] === 0x49;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const fields: Field[] = [{ name: "firstIfd", at: 4, size: 4, littleEndian: le }];
  let ifd = view.getUint32(4, le);
  for (let page = 0; page < 4 && ifd > 0 && ifd + 2 <= b.length; page++) {
    const n = view.getUint16(ifd, le);
    fields.push({ name: `ifd${page}.entries`, at: ifd, size: 2, littleEndian: le });
    for (let i = 0; i < n && ifd + 14 + 12 * i <= b.length; i++) {
      const at = ifd + 2 + 12 * i;
      const tag = view.getUint16(at, le);
      const type = view.getUint16(at + 2, le);
      fields.push({ name: `ifd${page}.${tag}.type`, at: at + 2, size: 2, littleEndian: le });
      fields.push({ name: `ifd${page}.${tag}.count`, at: at + 4, size: 4, littleEndian: le });
      fields.push({
        name: `ifd${page}.${tag}.value`,
        at: at + 8,
        size: type === 3 ? 2 : 4,
        littleEndian: le,
      });
    }
    const next = ifd + 2 + 12 * n;
    if (next + 4 > b.length) break;
    fields.push({ name: `ifd${page}.next`, at: next, size: 4, littleEndian: le });
    ifd = view.getUint32(next, le);
  }
  return fields;
}

function bmpFields(): Field[] {
  const f = (name: string, at: number, size: 2 | 4): Field => ({ name, at, size, littleEndian: true });
  return [
    f("pixelOffset", 10, 4),
    f("headerSize", 14, 4),
    f("width", 18, 4),
    f("height", 22, 4),
    f("bpp", 28, 2),
    f("compression", 30, 4),
    f("coloursUsed", 46, 4),
  ];
}

function jpegFields(b: Uint8Array): Field[] {
  const fields: Field[] = [];
  const f = (name: string, at: number, size: 1 | 2): Field => ({ name, at, size, littleEndian: false });
  for (let i = 2; i + 4 <= b.length;) {
    if (b[i] !== 0xff) break;
    const marker = b[i + 1]!;
    const length = (b[i + 2]! << 8) | b[i + 3]!;
    fields.push(f(`0x${marker.toString(16)}.length`, i + 2, 2));
    if (marker >= 0xc0 && marker <= 0xc2) {
      fields.push(
        f("precision", i + 4, 1),
        f("height", i + 5, 2),
        f("width", i + 7, 2),
        f("components", i + 9, 1),
      );
      fields.push(f("sampling", i + 11, 1));
    }
    if (marker === 0xda) {
      fields.push(f("scanComponents", i + 4, 1));
      break;
    }
    i += 2 + length;
  }
  return fields;
}

/** The elements of a DICOM data set (after the file meta group), explicit or implicit VR little endian. */
function dicomFields(b: Uint8Array, explicit: boolean): Field[] {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const fields: Field[] = [];
  let at = 132 + 12 + view.getUint32(140, true); // the meta group's length element, then the group
  const long = new Set(["OB", "OW", "OF", "SQ", "UT", "UN"]);
  while (at + 8 <= b.length) {
    const tag = `${view.getUint16(at, true).toString(16)},${view.getUint16(at + 2, true).toString(16)}`;
    let length: number;
    let valueAt: number;
    const vr = String.fromCharCode(b[at + 4]!, b[at + 5]!);
    if (!explicit) {
      fields.push({ name: `${tag}.length`, at: at + 4, size: 4, littleEndian: true });
      length = view.getUint32(at + 4, true);
      valueAt = at + 8;
    } else if (long.has(vr)) {
      fields.push({ name: `${tag}.length`, at: at + 8, size: 4, littleEndian: true });
      length = view.getUint32(at + 8, true);
      valueAt = at + 12;
    } else {
      fields.push({ name: `${tag}.length`, at: at + 6, size: 2, littleEndian: true });
      length = view.getUint16(at + 6, true);
      valueAt = at + 8;
    }
    if (length === 0xffffffff || valueAt + length > b.length) break;
    if (length === 2 && (!explicit || vr === "US"))
      fields.push({ name: tag, at: valueAt, size: 2, littleEndian: true });
    if (tag === "28,8") fields.push({ name: "frames", at: valueAt, size: 2, littleEndian: true, text: true });
    at = valueAt + length;
  }
  return fields;
}

/** Runs of ASCII digits in a header (JSON numbers, .npy shapes), as text fields. */
function digitFields(b: Uint8Array, from: number, to: number): Field[] {
  const fields: Field[] = [];
  for (let i = from; i < Math.min(to, b.length); i++) {
    if (b[i]! < 0x30 || b[i]! > 0x39) continue;
    let j = i;
    while (j < to && b[j]! >= 0x30 && b[j]! <= 0x39) j++;
    const size = Math.min(8, j - i) as 1 | 2 | 4 | 8;
    fields.push({ name: `digits@${i}`, at: i, size, littleEndian: false, text: true });
    i = j;
  }
  return fields;
}

// ---------------------------------------------------------------------------------------------------------

/** Every fixture, generated (deterministic). */
export async function makeFixtures(): Promise<Fixture[]> {
  const out: Fixture[] = [];
  const add = (
    format: FuzzFormat,
    name: string,
    bytes: Uint8Array,
    fields: Field[],
    fixup?: Fixture["fixup"],
  ) => out.push({ format, name, bytes: new Uint8Array(bytes), fields, ...(fixup ? { fixup } : {}) });

  // PNG: through sharp (grey, grey + alpha, RGB, RGBA, 16-bit, interlaced) and our palette decoder.
  const pngs: [string, Buffer][] = [
    ["grey.png", await raw(1).png().toBuffer()],
    ["rgb.png", await raw(3).png().toBuffer()],
    ["rgba.png", await raw(4).png().toBuffer()],
    ["grey16.png", await raw(1).toColourspace("grey16").png().toBuffer()],
    ["interlaced.png", await raw(3).png({ progressive: true }).toBuffer()],
    ["palette.png", await raw(3).png({ palette: true, colours: 16 }).toBuffer()],
    ["palette2.png", await raw(3).png({ palette: true, colours: 4 }).toBuffer()],
  ];
  for (const [name, b] of pngs) add("png", name, b, pngFields(b), pngFixCrcs);

  const jpegs: [string, Buffer][] = [
    ["grey.jpg", await raw(1).jpeg().toBuffer()],
    ["colour.jpg", await raw(3).jpeg().toBuffer()],
    ["progressive.jpg", await raw(3).jpeg({ progressive: true }).toBuffer()],
    ["444.jpg", await raw(3).jpeg({ chromaSubsampling: "4:4:4" }).toBuffer()],
  ];
  for (const [name, b] of jpegs) add("jpeg", name, b, jpegFields(b));

  const tiffs: [string, Uint8Array][] = [
    ["lzw.tif", encodeTiff({ width: W, height: H, data: texture(W, H) }, { rowsPerStrip: 5 })],
    [
      "none.tif",
      encodeTiff({ width: W, height: H, data: texture(W, H) }, { compression: "none", rowsPerStrip: 7 }),
    ],
    ["deflate.tif", await raw(1).tiff({ compression: "deflate" }).toBuffer()],
    ["packbits.tif", await raw(3).tiff({ compression: "packbits" }).toBuffer()],
    ["grey16.tif", await raw(1).toColourspace("grey16").tiff().toBuffer()],
    ["jpeg.tif", await raw(3).tiff({ compression: "jpeg" }).toBuffer()],
    ["pages.tif", manyPageTiff(3, 16, 12)],
  ];
  for (const [name, b] of tiffs) add("tiff", name, b, tiffFields(b));

  const gifs: [string, Uint8Array][] = [
    ["sharp.gif", await raw(3).gif().toBuffer()],
    [
      "animated.gif",
      await sharp(manyPageTiff(3, 16, 12), { pages: -1 })
        .gif()
        .toBuffer(),
    ],
    ["pixels.gif", gifOfPixels(8, 6, 4, (k) => [k, k])],
  ];
  for (const [name, b] of gifs) add("gif", name, b, gifFields(b));

  const pal = Array.from({ length: 16 }, (_, i): [number, number, number] => [i * 16, 255 - i * 16, i * 7]);
  const idx = [...texture(W, H)].map((v) => v & 15);
  const bmps: [string, Uint8Array][] = [
    ["pal8.bmp", encodeBmp({ width: W, height: H, bpp: 8, palette: pal, pixels: idx })],
    ["pal4.bmp", encodeBmp({ width: W, height: H, bpp: 4, palette: pal, pixels: idx })],
    ["rle8.bmp", encodeBmp({ width: W, height: H, bpp: 8, palette: pal, pixels: idx, compression: "rle8" })],
    ["rgb24.bmp", encodeBmp({ width: W, height: H, bpp: 24, pixels: idx.map((v) => v * 0x10305) })],
    [
      "top-down.bmp",
      encodeBmp({ width: W, height: H, bpp: 24, pixels: idx.map((v) => v * 0x30201), topDown: true }),
    ],
  ];
  for (const [name, b] of bmps) add("bmp", name, b, bmpFields());

  // How each data set is walked for its fields: big endian and deflated ones are not (their meta group and
  // bytes are mutated all the same).
  const dicoms: [string, Uint8Array, "implicit" | "explicit" | null][] = [
    [
      "implicit.dcm",
      encodeDicom({ transferSyntax: TS.implicitLE, rows: H, cols: W, pixels: texture(W, H) }),
      "implicit",
    ],
    [
      "explicit16.dcm",
      encodeDicom({
        transferSyntax: TS.explicitLE,
        rows: H,
        cols: W,
        bitsAllocated: 16,
        bitsStored: 12,
        pixels: Uint16Array.from(texture(W, H), (v) => v * 16),
        windowCenter: 2000,
        windowWidth: 3000,
      }),
      "explicit",
    ],
    [
      "cine.dcm",
      encodeDicom({ transferSyntax: TS.explicitLE, rows: H, cols: W, frames: 3, pixels: texture(W, 3 * H) }),
      "explicit",
    ],
    [
      "rgb.dcm",
      encodeDicom({
        transferSyntax: TS.explicitLE,
        rows: H,
        cols: W,
        samplesPerPixel: 3,
        pixels: texture(W, H, 3),
      }),
      "explicit",
    ],
    [
      "bigendian.dcm",
      encodeDicom({ transferSyntax: TS.explicitBE, rows: H, cols: W, pixels: texture(W, H) }),
      null,
    ],
    [
      "deflated.dcm",
      encodeDicom({ transferSyntax: TS.deflatedLE, rows: H, cols: W, pixels: texture(W, H) }),
      null,
    ],
    [
      "jpeg.dcm",
      encodeDicom({
        transferSyntax: TS.jpegBaseline,
        rows: H,
        cols: W,
        fragments: [await raw(1).jpeg().toBuffer()],
      }),
      "explicit",
    ],
  ];
  for (const [name, b, walk] of dicoms)
    add("dicom", name, b, walk ? dicomFields(b, walk === "explicit") : []);

  const weights = encodeSafetensors(
    {
      "a.weight": { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
      "b.bias": { shape: [4], data: Float32Array.from([0.5, -1, 2, 0]) },
    },
    { format: "nerveseg-fuzz" },
  );
  const headerEnd = 8 + Number(new DataView(weights.buffer).getBigUint64(0, true));
  add("safetensors", "weights.safetensors", weights, [
    { name: "headerLength", at: 0, size: 8, littleEndian: true },
    ...digitFields(weights, 8, headerEnd),
  ]);

  const npyHead = encodeNpyHeader("|u1", [2, 6, 5]);
  const npy = new Uint8Array(npyHead.length + 60);
  npy.set(npyHead);
  npy.set(texture(60, 1), npyHead.length);
  add("npy", "frames.npy", npy, [
    { name: "headerLength", at: 8, size: 2, littleEndian: true },
    ...digitFields(npy, 10, npyHead.length),
  ]);

  const csv = Buffer.from(
    'image,mask,group\na.png,a_mask.png,1\n"b, c.png",,2\nd.png,d_mask.png,"x ""y"""\n',
  );
  add("csv", "layout.csv", csv, []);
  return out;
}
