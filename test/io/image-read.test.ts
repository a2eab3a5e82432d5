import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import zlib from "node:zlib";
import sharp from "sharp";
import { UserError } from "../../src/core/errors.js";
import {
  IMAGE_EXTENSIONS,
  decodeImage,
  detectFormat,
  isImageFile,
  maskFromDecoded,
  readImageFile,
  type DecodedFile,
} from "../../src/io/image-read.js";
import { encodeTiff } from "../../src/io/tiff.js";
import { encodeBmp } from "../helpers/bmp-writer.js";
import { TS, encodeDicom } from "../helpers/dicom-writer.js";
import { tempDir } from "../helpers/sample.js";

const tmp = tempDir("nerveseg-image-read-");

/** BT.601 luma, rounded, written out independently of the code under test. */
const luma = (r: number, g: number, b: number): number => Math.round(0.299 * r + 0.587 * g + 0.114 * b);

async function rejects(p: Promise<unknown> | (() => unknown), file: string, pattern: RegExp): Promise<void> {
  await assert.rejects(
    async () => (typeof p === "function" ? p() : p),
    (e: unknown) => {
      assert.ok(e instanceof UserError, `a UserError, got ${String(e)}`);
      assert.ok(e.message.startsWith(`${file}: `), `names the file first: ${e.message}`);
      assert.ok(!e.message.includes("\n"), `one line: ${e.message}`);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

/** A w×h grey ramp with every value distinct where possible. */
function ramp(w: number, h: number, step = 3): Uint8Array {
  return Uint8Array.from({ length: w * h }, (_, i) => (i * step) % 256);
}

const W = 16;
const H = 12;

// ---------------------------------------------------------------------------------------------------------
// A tiny PNG encoder (any colour type and bit depth, every filter type, optional Adam7), for exact fixtures
// that sharp cannot make on demand: 1/2/4-bit grey, palettes with chosen indices.

interface PngSpec {
  width: number;
  height: number;
  colourType: 0 | 2 | 3 | 4 | 6;
  bitDepth: 1 | 2 | 4 | 8 | 16;
  /** Samples, row-major, channels interleaved. */
  samples: number[];
  palette?: [number, number, number][];
  interlace?: boolean;
}

function chunk(type: string, body: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), body])) >>> 0, 0);
  return Buffer.concat([head, body, crc]);
}

function encodePng(spec: PngSpec): Buffer {
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[spec.colourType];
  const bits = channels * spec.bitDepth;
  const bpp = Math.max(1, bits / 8);
  const passes = spec.interlace
    ? [
        [0, 0, 8, 8],
        [4, 0, 8, 8],
        [0, 4, 4, 8],
        [2, 0, 4, 4],
        [0, 2, 2, 4],
        [1, 0, 2, 2],
        [0, 1, 1, 2],
      ]
    : [[0, 0, 1, 1]];
  const out: number[] = [];
  let rowNo = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const pw = Math.ceil((spec.width - x0!) / dx!);
    const ph = Math.ceil((spec.height - y0!) / dy!);
    if (pw <= 0 || ph <= 0) continue;
    const stride = Math.ceil((pw * bits) / 8);
    let prev = new Uint8Array(stride);
    for (let r = 0; r < ph; r++) {
      const row = new Uint8Array(stride);
      const y = y0! + r * dy!;
      for (let c = 0; c < pw; c++) {
        const x = x0! + c * dx!;
        for (let k = 0; k < channels; k++) {
          const v = spec.samples[(y * spec.width + x) * channels + k]!;
          const bit = (c * channels + k) * spec.bitDepth;
          if (spec.bitDepth === 16) {
            row[bit >> 3] = v >> 8;
            row[(bit >> 3) + 1] = v & 0xff;
          } else row[bit >> 3] |= v << (8 - spec.bitDepth - (bit & 7));
        }
      }
      const filter = rowNo++ % 5;
      const f = new Uint8Array(stride);
      for (let i = 0; i < stride; i++) {
        const a = i >= bpp ? row[i - bpp]! : 0;
        const b = prev[i]!;
        const c = i >= bpp ? prev[i - bpp]! : 0;
        const p = a + b - c;
        const pred = [
          0,
          a,
          b,
          (a + b) >> 1,
          Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c)
            ? a
            : Math.abs(p - b) <= Math.abs(p - c)
              ? b
              : c,
        ][filter]!;
        f[i] = (row[i]! - pred) & 0xff;
      }
      out.push(filter, ...f);
      prev = row;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(spec.width, 0);
  ihdr.writeUInt32BE(spec.height, 4);
  ihdr[8] = spec.bitDepth;
  ihdr[9] = spec.colourType;
  ihdr[12] = spec.interlace ? 1 : 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    ...(spec.palette ? [chunk("PLTE", Uint8Array.from(spec.palette.flat()))] : []),
    chunk("IDAT", zlib.deflateSync(Uint8Array.from(out))),
    chunk("IEND", new Uint8Array(0)),
  ]);
}

// ---------------------------------------------------------------------------------------------------------
// A tiny GIF encoder with chosen indices: 9-bit LZW codes with a clear code every 254 literals, so the code
// width never grows (the "uncompressed GIF" trick); frames may carry transparency and disposal.

interface GifFrameSpec {
  left?: number;
  top?: number;
  width: number;
  height: number;
  indices: number[];
  transparent?: number;
  disposal?: number;
  localPalette?: [number, number, number][];
  interlace?: boolean;
}

function gifTable(palette: [number, number, number][]): { bits: number; bytes: number[] } {
  let bits = 1;
  while (1 << bits < palette.length) bits++;
  const bytes = palette.flat();
  while (bytes.length < 3 << bits) bytes.push(0);
  return { bits, bytes };
}

function encodeGif(
  width: number,
  height: number,
  palette: [number, number, number][],
  frames: GifFrameSpec[],
): Buffer {
  const out: number[] = [...Buffer.from("GIF89a")];
  const global = gifTable(palette);
  out.push(
    width & 255,
    width >> 8,
    height & 255,
    height >> 8,
    0x80 | (global.bits - 1),
    0,
    0,
    ...global.bytes,
  );
  for (const f of frames) {
    const transparent = f.transparent ?? -1;
    out.push(
      0x21,
      0xf9,
      4,
      ((f.disposal ?? 0) << 2) | (transparent >= 0 ? 1 : 0),
      0,
      0,
      Math.max(0, transparent),
      0,
    );
    const { left = 0, top = 0 } = f;
    const local = f.localPalette ? gifTable(f.localPalette) : null;
    out.push(
      0x2c,
      left & 255,
      left >> 8,
      top & 255,
      top >> 8,
      f.width & 255,
      f.width >> 8,
      f.height & 255,
      f.height >> 8,
    );
    out.push((local ? 0x80 | (local.bits - 1) : 0) | (f.interlace ? 0x40 : 0), ...(local?.bytes ?? []));
    // Interlaced frames store every 8th row from 0, every 8th from 4, every 4th from 2, every 2nd from 1.
    const rows = [...Array(f.height).keys()];
    const order = f.interlace
      ? [
          ...rows.filter((y) => y % 8 === 0),
          ...rows.filter((y) => y % 8 === 4),
          ...rows.filter((y) => y % 4 === 2),
          ...rows.filter((y) => y % 2 === 1),
        ]
      : rows;
    const stored = order.flatMap((y) => f.indices.slice(y * f.width, (y + 1) * f.width));
    // LZW, min code size 8, codes of 9 bits, LSB first.
    const codes: number[] = [];
    stored.forEach((v, i) => {
      if (i % 254 === 0) codes.push(256);
      codes.push(v);
    });
    codes.push(257);
    const data: number[] = [];
    let acc = 0;
    let nbits = 0;
    for (const c of codes) {
      acc |= c << nbits;
      nbits += 9;
      while (nbits >= 8) {
        data.push(acc & 255);
        acc >>>= 8;
        nbits -= 8;
      }
    }
    if (nbits > 0) data.push(acc & 255);
    out.push(8);
    for (let i = 0; i < data.length; i += 255) {
      const block = data.slice(i, i + 255);
      out.push(block.length, ...block);
    }
    out.push(0);
  }
  out.push(0x3b);
  return Buffer.from(out);
}

/** A luma reference: sharp's own decode of the file, as RGB, through the BT.601 formula. */
async function sharpLuma(bytes: Uint8Array, page = 0): Promise<number[]> {
  const { data, info } = await sharp(bytes, { page })
    .removeAlpha()
    .toColourspace("srgb")
    .raw()
    .toBuffer({ resolveWithObject: true });
  const out: number[] = [];
  for (let i = 0; i < info.width * info.height; i++)
    out.push(luma(data[3 * i]!, data[3 * i + 1]!, data[3 * i + 2]!));
  return out;
}

function only(d: DecodedFile) {
  assert.equal(d.frames.length, 1);
  return d.frames[0]!;
}

// ---------------------------------------------------------------------------------------------------------

test("detectFormat goes by magic bytes; IMAGE_EXTENSIONS and isImageFile", async () => {
  const grey = ramp(W, H);
  const png = await sharp(grey, { raw: { width: W, height: H, channels: 1 } })
    .png()
    .toBuffer();
  const jpg = await sharp(grey, { raw: { width: W, height: H, channels: 1 } })
    .jpeg()
    .toBuffer();
  const gif = encodeGif(2, 1, [[0, 0, 0]], [{ width: 2, height: 1, indices: [0, 0] }]);
  assert.equal(detectFormat(png), "png");
  assert.equal(detectFormat(jpg), "jpeg");
  assert.equal(detectFormat(encodeTiff({ width: W, height: H, data: grey })), "tiff");
  assert.equal(detectFormat(gif), "gif");
  assert.equal(detectFormat(encodeBmp({ width: 1, height: 1, bpp: 24, pixels: [0] })), "bmp");
  assert.equal(
    detectFormat(encodeDicom({ transferSyntax: TS.explicitLE, rows: 1, cols: 1, pixels: new Uint8Array(1) })),
    "dicom",
  );
  assert.equal(detectFormat(Buffer.from("BM not really a bitmap header")), null);
  assert.equal(detectFormat(new Uint8Array(0)), null);
  assert.deepEqual([...IMAGE_EXTENSIONS].sort(), [
    ".bmp",
    ".dcm",
    ".gif",
    ".jpeg",
    ".jpg",
    ".png",
    ".tif",
    ".tiff",
  ]);
  assert.equal(isImageFile("/nowhere/SCAN.PNG"), true);
  assert.equal(isImageFile("/nowhere/labels.csv"), false);
  // A PNG named .jpg is read as the PNG it is.
  const misnamed = path.join(tmp, "really-a-png.jpg");
  fs.writeFileSync(misnamed, png);
  const d = await readImageFile(misnamed);
  assert.equal(d.format, "png");
  assert.deepEqual([...only(d).image.data], [...grey]);
});

test("PNG 8-bit grey, grey + alpha, RGB and RGBA: exact values, BT.601 luma, alpha ignored", async () => {
  const grey = ramp(W, H);
  const png8 = await sharp(grey, { raw: { width: W, height: H, channels: 1 } })
    .toColourspace("b-w")
    .png()
    .toBuffer();
  const d8 = await decodeImage(png8, "grey.png");
  assert.deepEqual([d8.format, d8.lossy, d8.bitDepth, d8.frameCount], ["png", false, 8, 1]);
  const f8 = only(d8);
  assert.deepEqual([f8.name, f8.colour, f8.image.width, f8.image.height], ["grey.png", "grey", W, H]);
  assert.deepEqual([...f8.image.data], [...grey]);
  assert.deepEqual([...f8.labels!], [...grey]);

  const ga = encodePng({
    width: 4,
    height: 1,
    colourType: 4,
    bitDepth: 8,
    samples: [10, 255, 20, 0, 30, 128, 40, 7],
  });
  assert.deepEqual([...only(await decodeImage(ga, "ga.png")).image.data], [10, 20, 30, 40]);

  const rgb = [
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
    [12, 34, 56],
    [200, 100, 50],
    [255, 255, 255],
  ];
  const want = rgb.map(([r, g, b]) => luma(r!, g!, b!));
  const pngRgb = encodePng({ width: 3, height: 2, colourType: 2, bitDepth: 8, samples: rgb.flat() });
  const fRgb = only(await decodeImage(pngRgb, "rgb.png"));
  assert.equal(fRgb.colour, "rgb");
  assert.equal(fRgb.labels, undefined);
  assert.deepEqual([...fRgb.image.data], want);
  const rgba = rgb.flatMap((p, i) => [...p, i * 40]); // alpha 0 included: ignored
  const pngRgba = encodePng({ width: 3, height: 2, colourType: 6, bitDepth: 8, samples: rgba });
  assert.deepEqual([...only(await decodeImage(pngRgba, "rgba.png")).image.data], want);
  // The same colours written by sharp (libpng), with and without alpha.
  for (const channels of [3, 4] as const) {
    const px = Uint8Array.from(channels === 3 ? rgb.flat() : rgba);
    const bySharp = await sharp(px, { raw: { width: 3, height: 2, channels } })
      .png()
      .toBuffer();
    assert.deepEqual([...only(await decodeImage(bySharp, "s.png")).image.data], want, `${channels} channels`);
  }
});

test("PNG 16-bit grey and RGB: round(v / 257), labels keep 16 bits", async () => {
  const v16 = [0, 1, 128, 129, 385, 386, 1000, 32767, 32896, 65279, 65534, 65535];
  const png16 = encodePng({ width: 4, height: 3, colourType: 0, bitDepth: 16, samples: v16 });
  const d = await decodeImage(png16, "deep.png");
  assert.equal(d.bitDepth, 16);
  const f = only(d);
  assert.deepEqual(
    [...f.image.data],
    v16.map((v) => Math.round(v / 257)),
  );
  assert.ok(f.labels instanceof Uint16Array);
  assert.deepEqual([...f.labels!], v16);
  // The same through sharp's own 16-bit writer.
  const bySharp = await sharp(Uint16Array.from(v16), { raw: { width: 4, height: 3, channels: 1 } })
    .toColourspace("grey16")
    .png()
    .toBuffer();
  assert.deepEqual([...only(await decodeImage(bySharp, "deep2.png")).labels!], v16);

  const rgb16 = [65535, 0, 0, 0, 65535, 0, 1000, 30000, 60000];
  const fRgb = only(
    await decodeImage(
      encodePng({ width: 3, height: 1, colourType: 2, bitDepth: 16, samples: rgb16 }),
      "c16.png",
    ),
  );
  const want = [0, 1, 2].map((i) =>
    Math.round(
      Math.round(0.299 * rgb16[3 * i]! + 0.587 * rgb16[3 * i + 1]! + 0.114 * rgb16[3 * i + 2]!) / 257,
    ),
  );
  assert.deepEqual([...fRgb.image.data], want);
});

test("PNG 1/2/4-bit grey: image expanded to 0..255, labels the raw values", async () => {
  for (const bitDepth of [1, 2, 4] as const) {
    const max = (1 << bitDepth) - 1;
    const samples = Array.from({ length: 5 * 3 }, (_, i) => (i * 7) % (max + 1));
    const d = await decodeImage(
      encodePng({ width: 5, height: 3, colourType: 0, bitDepth, samples }),
      "low.png",
    );
    assert.equal(d.bitDepth, bitDepth);
    const f = only(d);
    assert.deepEqual([...f.labels!], samples, `${bitDepth}-bit labels`);
    assert.deepEqual(
      [...f.image.data],
      samples.map((v) => (v * 255) / max),
      `${bitDepth}-bit image`,
    );
  }
});

test("palette PNG: true indices at 1/2/4/8 bits, every filter, Adam7, duplicate colours", async () => {
  for (const bitDepth of [1, 2, 4, 8] as const) {
    for (const interlace of [false, true]) {
      const n = Math.min(1 << bitDepth, 6);
      const palette: [number, number, number][] = Array.from({ length: n }, (_, k) => [
        k * 40,
        255 - k * 30,
        (k * 77) % 256,
      ]);
      if (n > 2) palette[n - 1] = palette[0]!; // two indices, one colour
      const width = 11;
      const height = 9;
      const samples = Array.from({ length: width * height }, (_, i) => (i * 5 + Math.floor(i / width)) % n);
      const png = encodePng({ width, height, colourType: 3, bitDepth, samples, palette, interlace });
      const d = await decodeImage(png, "pal.png");
      assert.equal(d.bitDepth, bitDepth);
      const f = only(d);
      assert.equal(f.colour, "palette");
      assert.deepEqual([...f.labels!], samples, `${bitDepth}-bit interlace=${interlace}`);
      assert.deepEqual(
        [...f.image.data],
        samples.map((k) => luma(...palette[k]!)),
      );
      // sharp (libpng) agrees on what the picture looks like.
      assert.deepEqual([...f.image.data], await sharpLuma(png));
    }
  }
  // A palette PNG written by sharp (libimagequant): luma as sharp sees it, one index per colour.
  const rgb = Uint8Array.from(
    { length: W * H * 3 },
    (_, i) => [0, 255, 90][Math.floor(i / 3) % 3]! ^ (i % 3 === 1 ? 0 : 17),
  );
  const quant = await sharp(rgb, { raw: { width: W, height: H, channels: 3 } })
    .png({ palette: true })
    .toBuffer();
  const fq = only(await decodeImage(quant, "quant.png"));
  assert.deepEqual([...fq.image.data], await sharpLuma(quant));
  const byIndex = new Map<number, number>();
  fq.labels!.forEach((k, i) => {
    if (!byIndex.has(k)) byIndex.set(k, fq.image.data[i]!);
    assert.equal(byIndex.get(k), fq.image.data[i]);
  });
});

test("JPEG baseline and progressive, grey and colour: within ±3, lossy", async () => {
  const grey = Uint8Array.from({ length: 32 * 24 }, (_, i) => 30 + (i % 32) * 5 + Math.floor(i / 32) * 2);
  for (const progressive of [false, true]) {
    const jpg = await sharp(grey, { raw: { width: 32, height: 24, channels: 1 } })
      .toColourspace("b-w")
      .jpeg({ quality: 95, progressive })
      .toBuffer();
    const d = await decodeImage(jpg, "us.jpg");
    assert.deepEqual([d.format, d.lossy, d.bitDepth], ["jpeg", true, 8]);
    only(d).image.data.forEach((v, i) =>
      assert.ok(Math.abs(v - grey[i]!) <= 3, `progressive=${progressive} ${v} vs ${grey[i]}`),
    );
    const rgbJpg = await sharp(
      Uint8Array.from({ length: 32 * 24 * 3 }, (_, i) => [200, 120, 40][i % 3]!),
      {
        raw: { width: 32, height: 24, channels: 3 },
      },
    )
      .jpeg({ quality: 95, progressive })
      .toBuffer();
    const fc = only(await decodeImage(rgbJpg, "c.jpg"));
    assert.equal(fc.colour, "rgb");
    fc.image.data.forEach((v) => assert.ok(Math.abs(v - luma(200, 120, 40)) <= 3));
  }
});

test("TIFF: our reader for LZW/none grey; sharp for deflate, PackBits, 16-bit, RGB, WhiteIsZero, JPEG", async () => {
  const grey = ramp(W, H, 5);
  const raw = { raw: { width: W, height: H, channels: 1 as const } };
  for (const compression of ["lzw", "none"] as const) {
    const f = only(
      await decodeImage(encodeTiff({ width: W, height: H, data: grey }, { compression }), "k.tif"),
    );
    assert.deepEqual([...f.image.data], [...grey]);
    assert.deepEqual([...f.labels!], [...grey]);
  }
  for (const compression of ["deflate", "packbits", "lzw"]) {
    const tif = await sharp(grey, raw).toColourspace("b-w").tiff({ compression }).toBuffer();
    const d = await decodeImage(tif, "s.tif");
    assert.deepEqual([d.format, d.lossy, d.bitDepth], ["tiff", false, 8]);
    assert.deepEqual([...only(d).image.data], [...grey], compression);
  }
  const v16 = Uint16Array.from({ length: W * H }, (_, i) => i * 331);
  const t16 = await sharp(v16, raw).toColourspace("grey16").tiff({ compression: "deflate" }).toBuffer();
  const d16 = await decodeImage(t16, "deep.tif");
  assert.equal(d16.bitDepth, 16);
  assert.deepEqual(
    [...only(d16).image.data],
    [...v16].map((v) => Math.round(v / 257)),
  );
  assert.deepEqual([...only(d16).labels!], [...v16]);

  const rgb = Uint8Array.from({ length: W * H * 3 }, (_, i) => (i * 13) % 256);
  const tRgb = await sharp(rgb, { raw: { width: W, height: H, channels: 3 } })
    .tiff({ compression: "deflate" })
    .toBuffer();
  const fRgb = only(await decodeImage(tRgb, "rgb.tif"));
  assert.deepEqual(
    [...fRgb.image.data],
    Array.from({ length: W * H }, (_, i) => luma(rgb[3 * i]!, rgb[3 * i + 1]!, rgb[3 * i + 2]!)),
  );

  // WhiteIsZero: shown as written (0 = black), labels are the stored (inverted) values; both readers.
  for (const compression of ["lzw", "deflate"]) {
    const white = await sharp(grey, raw)
      .toColourspace("b-w")
      .tiff({ compression, miniswhite: true })
      .toBuffer();
    const f = only(await decodeImage(white, "white.tif"));
    assert.deepEqual([...f.image.data], [...grey], compression);
    assert.deepEqual(
      [...f.labels!],
      [...grey].map((v) => 255 - v),
      compression,
    );
  }

  const tJpeg = await sharp(grey, raw)
    .toColourspace("b-w")
    .tiff({ compression: "jpeg", quality: 95 })
    .toBuffer();
  const dj = await decodeImage(tJpeg, "j.tif");
  assert.equal(dj.lossy, true);
  only(dj).image.data.forEach((v, i) => assert.ok(Math.abs(v - grey[i]!) <= 8));
});

test("multi-page TIFF: one frame per page named file#k; 'first'; 'refuse-multi'", async () => {
  const pages = [ramp(W, H, 1), ramp(W, H, 2), ramp(W, H, 7)];
  const tall = Uint8Array.from(pages.flatMap((p) => [...p]));
  const tif = await sharp(tall, { raw: { width: W, height: H * 3, channels: 1, pageHeight: H } })
    .toColourspace("b-w")
    .tiff({ compression: "lzw" })
    .toBuffer();
  const file = path.join(tmp, "stack (3) é.tif");
  fs.writeFileSync(file, tif);
  const d = await readImageFile(file);
  assert.equal(d.frameCount, 3);
  assert.deepEqual(
    d.frames.map((f) => f.name),
    ["stack (3) é.tif#1", "stack (3) é.tif#2", "stack (3) é.tif#3"],
  );
  d.frames.forEach((f, k) => assert.deepEqual([...f.image.data], [...pages[k]!]));
  const first = await readImageFile(file, { frames: "first" });
  assert.deepEqual(
    first.frames.map((f) => f.name),
    ["stack (3) é.tif#1"],
  );
  await rejects(
    readImageFile(file, { frames: "refuse-multi" }),
    file,
    /has 3 frames; only single-frame images/,
  );
});

test("GIF: exact indices, luma of the colour table, animation composited with transparency and disposal", async () => {
  const palette: [number, number, number][] = [
    [0, 0, 0],
    [255, 255, 255],
    [255, 0, 0],
    [10, 20, 30],
  ];
  const first = [0, 1, 2, 3, 3, 2, 1, 0, 1, 1, 1, 1];
  const gif = encodeGif(4, 3, palette, [
    { width: 4, height: 3, indices: first, transparent: 3 }, // first frame: transparent pixels keep their index
    { left: 1, top: 1, width: 2, height: 2, indices: [2, 0, 3, 2], transparent: 3, disposal: 2 },
    {
      left: 0,
      top: 0,
      width: 1,
      height: 1,
      indices: [1],
      localPalette: [
        [0, 0, 0],
        [100, 100, 100],
      ],
    },
  ]);
  const file = path.join(tmp, "anim.gif");
  fs.writeFileSync(file, gif);
  const d = await readImageFile(file);
  assert.deepEqual([d.format, d.lossy, d.frameCount, d.bitDepth], ["gif", false, 3, 2]);
  assert.deepEqual(
    d.frames.map((f) => f.name),
    ["anim.gif#1", "anim.gif#2", "anim.gif#3"],
  );
  assert.deepEqual([...d.frames[0]!.labels!], first);
  assert.deepEqual(
    [...d.frames[0]!.image.data],
    first.map((k) => luma(...palette[k]!)),
  );
  const second = [...first];
  second[5] = 2;
  second[6] = 0;
  second[10] = 2; // index 9 is transparent in frame 2: keeps frame 1's value
  assert.deepEqual([...d.frames[1]!.labels!], second);
  // Disposal 2 restored frame 2's rectangle to the background (index 0); frame 3 draws with its local table.
  const third = [...first];
  third[5] = third[6] = third[9] = third[10] = 0;
  third[0] = 1;
  assert.deepEqual([...d.frames[2]!.labels!], third);
  assert.equal(d.frames[2]!.image.data[0], 100);
  assert.equal(d.frames[2]!.image.data[1], 255);
  // The same pictures as sharp (libnsgif) composites them, where nothing is transparent.
  const sharpFirst = await sharpLuma(gif, 0);
  d.frames[0]!.image.data.forEach((v, i) => {
    if (first[i] !== 3) assert.equal(v, sharpFirst[i]);
  });

  const tallIdx = Array.from({ length: 3 * 11 }, (_, i) => Math.floor(i / 3) % 4);
  const interlaced = encodeGif(3, 11, palette, [{ width: 3, height: 11, indices: tallIdx, interlace: true }]);
  assert.deepEqual([...only(await decodeImage(interlaced, "il.gif")).labels!], tallIdx);
  assert.deepEqual(
    [...only(await decodeImage(interlaced, "il.gif")).image.data],
    await sharpLuma(interlaced),
  );

  const single = await decodeImage(
    encodeGif(2, 2, palette, [{ width: 2, height: 2, indices: [0, 1, 2, 3] }]),
    "one.gif",
  );
  assert.equal(only(single).name, "one.gif");
  await rejects(decodeImage(gif, "anim.gif", { frames: "refuse-multi" }), "anim.gif", /has 3 frames/);
});

test("GIF written by sharp (real LZW): every frame matches sharp's own decode", async () => {
  const frames = [ramp(W, H, 1), ramp(W, H, 9), Uint8Array.from(ramp(W, H, 1)).fill(200, 0, 40)];
  const tall = Uint8Array.from(frames.flatMap((f) => [...f]));
  const gif = await sharp(tall, { raw: { width: W, height: H * 3, channels: 1, pageHeight: H } })
    .gif()
    .toBuffer();
  const d = await decodeImage(gif, "s.gif");
  assert.equal(d.frameCount, 3);
  for (let k = 0; k < 3; k++)
    assert.deepEqual([...d.frames[k]!.image.data], await sharpLuma(gif, k), `frame ${k + 1}`);
});

test("bad files: one clear line naming the file", async () => {
  const grey = ramp(W, H);
  const png = encodePng({ width: W, height: H, colourType: 0, bitDepth: 8, samples: [...grey] });
  const pal = encodePng({
    width: W,
    height: H,
    colourType: 3,
    bitDepth: 8,
    samples: [...grey].map((v) => v % 2),
    palette: [
      [0, 0, 0],
      [9, 9, 9],
    ],
  });
  const jpg = await sharp(grey, { raw: { width: W, height: H, channels: 1 } })
    .jpeg()
    .toBuffer();
  const gif = encodeGif(
    W,
    H,
    [
      [0, 0, 0],
      [1, 1, 1],
    ],
    [{ width: W, height: H, indices: [...grey].map((v) => v % 2) }],
  );
  await rejects(decodeImage(new Uint8Array(0), "empty.png"), "empty.png", /empty file/);
  await rejects(
    decodeImage(Buffer.from("just some text, no image at all"), "notes.png"),
    "notes.png",
    /unknown image format/,
  );
  await rejects(decodeImage(png.subarray(0, png.length - 30), "cut.png"), "cut.png", /cannot decode PNG/);
  await rejects(decodeImage(png.subarray(0, 20), "stub.png"), "stub.png", /truncated PNG/);
  await rejects(decodeImage(pal.subarray(0, pal.length - 30), "cutpal.png"), "cutpal.png", /truncated PNG/);
  await rejects(decodeImage(jpg.subarray(0, jpg.length - 60), "cut.jpg"), "cut.jpg", /cannot decode JPEG/);
  await rejects(decodeImage(gif.subarray(0, gif.length - 20), "cut.gif"), "cut.gif", /truncated/);
  const tif = encodeTiff({ width: W, height: H, data: grey });
  await rejects(decodeImage(tif.subarray(0, 40), "cut.tif"), "cut.tif", /truncated|past the end/);
  // Zero and absurd sizes, from a doctored IHDR.
  const zero = encodePng({ width: 1, height: 1, colourType: 0, bitDepth: 8, samples: [0] });
  zero.writeUInt32BE(0, 16);
  await rejects(decodeImage(zero, "zero.png"), "zero.png", /empty image \(0x1\)/);
  const huge = encodePng({ width: 1, height: 1, colourType: 0, bitDepth: 8, samples: [0] });
  huge.writeUInt32BE(200_000, 16);
  huge.writeUInt32BE(200_000, 20);
  await rejects(decodeImage(huge, "huge.png"), "huge.png", /image too large \(200000x200000/);
  await rejects(
    readImageFile(path.join(tmp, "missing.png")),
    path.join(tmp, "missing.png"),
    /cannot read \(ENOENT\)/,
  );
  await rejects(readImageFile(tmp), tmp, /is a folder/);
});

test("file names with spaces, parentheses and non-ASCII letters read fine; bad contents still name them", async () => {
  const grey = ramp(W, H);
  const name = path.join(tmp, "Patient (2) — coupe n°3 ümlaut 東京.png");
  fs.writeFileSync(
    name,
    await sharp(grey, { raw: { width: W, height: H, channels: 1 } })
      .toColourspace("b-w")
      .png()
      .toBuffer(),
  );
  const d = await readImageFile(name);
  assert.equal(only(d).name, path.basename(name));
  assert.deepEqual([...only(d).image.data], [...grey]);
  const bad = path.join(tmp, "bad (1) é.png");
  fs.writeFileSync(bad, "not an image");
  await rejects(readImageFile(bad), bad, /unknown image format/);
});

// ---------------------------------------------------------------------------------------------------------
// Masks

test("masks: non-zero for lossless files, > 127 for JPEG", async () => {
  const bin = Uint8Array.from({ length: W * H }, (_, i) => (i % W > 4 && i % W < 11 && i > 3 * W ? 255 : 0));
  const png = await sharp(bin, { raw: { width: W, height: H, channels: 1 } })
    .toColourspace("b-w")
    .png()
    .toBuffer();
  const d = await decodeImage(png, "m.png");
  assert.deepEqual(
    [...maskFromDecoded(d, only(d))],
    [...bin].map((v) => (v ? 1 : 0)),
  );
  // A 0/1 mask in 16 bits: the 8-bit image is all 0, the raw values still count.
  const one16 = encodePng({
    width: W,
    height: H,
    colourType: 0,
    bitDepth: 16,
    samples: [...bin].map((v) => (v ? 1 : 0)),
  });
  const d16 = await decodeImage(one16, "m16.png");
  assert.ok(only(d16).image.data.every((v) => v === 0));
  assert.deepEqual(
    [...maskFromDecoded(d16, only(d16))],
    [...bin].map((v) => (v ? 1 : 0)),
  );
  // JPEG: smeared values, threshold at half range.
  const jpg = await sharp(bin, { raw: { width: W, height: H, channels: 1 } })
    .toColourspace("b-w")
    .jpeg({ quality: 80 })
    .toBuffer();
  const dj = await decodeImage(jpg, "m.jpg");
  assert.ok(only(dj).image.data.some((v) => v !== 0 && v !== 255));
  assert.deepEqual(
    [...maskFromDecoded(dj, only(dj))],
    [...only(dj).image.data].map((v) => (v > 127 ? 1 : 0)),
  );
  const agree = [...maskFromDecoded(dj, only(dj))].filter((v, i) => v === (bin[i] ? 1 : 0)).length;
  assert.ok(agree >= bin.length - 2, `${agree} of ${bin.length}`);
  // A palette whose index 0 is white: what shows black is background.
  const inv = encodePng({
    width: 3,
    height: 1,
    colourType: 3,
    bitDepth: 8,
    samples: [0, 1, 0],
    palette: [
      [255, 255, 255],
      [0, 0, 0],
    ],
  });
  const di = await decodeImage(inv, "inv.png");
  assert.deepEqual([...maskFromDecoded(di, only(di))], [1, 0, 1]);
});

test("masks: label N picks a palette index or a raw value", async () => {
  const palette: [number, number, number][] = [
    [0, 0, 0],
    [255, 0, 0],
    [255, 0, 0], // same colour as 1, another label
    [0, 0, 255],
  ];
  const samples = [0, 1, 2, 3, 3, 2, 1, 0];
  const d = await decodeImage(
    encodePng({ width: 4, height: 2, colourType: 3, bitDepth: 2, samples, palette }),
    "lab.png",
  );
  assert.deepEqual(
    [...maskFromDecoded(d, only(d), { label: 2 })],
    samples.map((v) => (v === 2 ? 1 : 0)),
  );
  assert.deepEqual(
    [...maskFromDecoded(d, only(d), { label: 1 })],
    samples.map((v) => (v === 1 ? 1 : 0)),
  );
  await rejects(
    () => maskFromDecoded(d, only(d), { label: 4 }),
    "lab.png",
    /label 4 is out of range: this 2-bit file holds values 0\.\.3/,
  );
  // Grey value maps, 8- and 16-bit.
  const values = [0, 5, 5, 7, 300, 0];
  const g16 = await decodeImage(
    encodePng({ width: 3, height: 2, colourType: 0, bitDepth: 16, samples: values }),
    "v16.png",
  );
  assert.deepEqual([...maskFromDecoded(g16, only(g16), { label: 300 })], [0, 0, 0, 0, 1, 0]);
  const g8 = await decodeImage(
    encodePng({ width: 3, height: 2, colourType: 0, bitDepth: 8, samples: values.map((v) => v % 256) }),
    "v8.png",
  );
  assert.deepEqual([...maskFromDecoded(g8, only(g8), { label: 5 })], [0, 1, 1, 0, 0, 0]);
  // GIF indices.
  const gif = await decodeImage(
    encodeGif(4, 2, palette, [{ width: 4, height: 2, indices: samples }]),
    "lab.gif",
  );
  assert.deepEqual(
    [...maskFromDecoded(gif, only(gif), { label: 3 })],
    samples.map((v) => (v === 3 ? 1 : 0)),
  );
  // No single value per pixel, or no exact values: refused.
  const rgb = await decodeImage(
    encodePng({ width: 1, height: 1, colourType: 2, bitDepth: 8, samples: [1, 2, 3] }),
    "c.png",
  );
  await rejects(
    () => maskFromDecoded(rgb, only(rgb), { label: 1 }),
    "c.png",
    /needs a grey or palette image; this one is a colour PNG/,
  );
  const jpg = await decodeImage(
    await sharp(new Uint8Array(64), { raw: { width: 8, height: 8, channels: 1 } })
      .jpeg()
      .toBuffer(),
    "z.jpg",
  );
  await rejects(() => maskFromDecoded(jpg, only(jpg), { label: 0 }), "z.jpg", /lossy \(JPEG\) file/);
});

test("masks: a grey picture is refused as a mask, a label map with few values is not", async () => {
  const photo = Uint8Array.from({ length: 40 * 30 }, (_, i) => 20 + ((i * 37) % 200));
  const png = await sharp(photo, { raw: { width: 40, height: 30, channels: 1 } })
    .toColourspace("b-w")
    .png()
    .toBuffer();
  const d = await decodeImage(png, "photo.png");
  await rejects(
    () => maskFromDecoded(d, only(d)),
    "photo.png",
    /does not look like a mask: \d+ grey levels and \d+% of pixels mid-grey/,
  );
  // Sixteen labels 0..15 (dark values): accepted, non-zero is foreground.
  const labels = Uint8Array.from({ length: 40 * 30 }, (_, i) => i % 16);
  const lp = await sharp(labels, { raw: { width: 40, height: 30, channels: 1 } })
    .toColourspace("b-w")
    .png()
    .toBuffer();
  const dl = await decodeImage(lp, "labels.png");
  assert.deepEqual(
    [...maskFromDecoded(dl, only(dl))],
    [...labels].map((v) => (v ? 1 : 0)),
  );
  // Multi-frame: the error names the frame.
  const tall = Uint8Array.from([...photo, ...photo]);
  const tif = await sharp(tall, { raw: { width: 40, height: 60, channels: 1, pageHeight: 30 } })
    .toColourspace("b-w")
    .tiff({ compression: "deflate" })
    .toBuffer();
  const dm = await decodeImage(tif, "cine.tif");
  await rejects(() => maskFromDecoded(dm, dm.frames[1]!), "cine.tif#2", /does not look like a mask/);
});
