import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import sharp from "sharp";
import { decodeImage, isImageFile, maskFromDecoded, readImageFile } from "../../src/io/image-read.js";
import { TS, encodeDicom, type DicomSpec } from "../helpers/dicom-writer.js";
import { tempDir } from "../helpers/sample.js";
import { rejectsNaming } from "../helpers/errors.js";

const tmp = tempDir("nerveseg-dicom-");

/** BT.601 luma, rounded, written out independently of the code under test. */
const luma = (r: number, g: number, b: number): number => Math.round(0.299 * r + 0.587 * g + 0.114 * b);

async function decode(spec: DicomSpec, name = "scan.dcm", opts = {}) {
  return decodeImage(encodeDicom(spec), name, opts);
}

const ramp8 = Uint8Array.from({ length: 12 }, (_, i) => i * 23);

test("8-bit MONOCHROME2 reads the same in explicit, implicit, big-endian and deflated syntaxes", async () => {
  for (const ts of [TS.explicitLE, TS.implicitLE, TS.explicitBE, TS.deflatedLE]) {
    const d = await decode({ transferSyntax: ts, rows: 3, cols: 4, pixels: ramp8 });
    assert.equal(d.format, "dicom");
    assert.equal(d.lossy, false);
    assert.equal(d.bitDepth, 8);
    assert.equal(d.frameCount, 1);
    const [f] = d.frames;
    assert.equal(f!.name, "scan.dcm");
    assert.equal(f!.colour, "grey");
    assert.deepEqual([f!.image.width, f!.image.height], [4, 3]);
    assert.deepEqual([...f!.image.data], [...ramp8], ts);
    assert.deepEqual([...f!.labels!], [...ramp8], ts);
  }
});

test("MONOCHROME1 is inverted for display; its labels stay the stored values", async () => {
  const d = await decode({
    transferSyntax: TS.explicitLE,
    rows: 3,
    cols: 4,
    photometric: "MONOCHROME1",
    pixels: ramp8,
  });
  assert.deepEqual(
    [...d.frames[0]!.image.data],
    [...ramp8].map((v) => 255 - v),
  );
  assert.deepEqual([...d.frames[0]!.labels!], [...ramp8]);
});

test("16-bit: rescale then the first window (DICOM's linear VOI function)", async () => {
  // m = v − 1024; window 40/400: m ≤ −160 → 0, m > 239 → 255, else ((m − 39.5)/399 + 0.5) × 255.
  const stored = [0, 864, 865, 1000, 1100, 1263, 1264, 4095];
  const want = [0, 0, 0, 87, 151, 255, 255, 255];
  // m = 865 − 1024 = −159: ((−159 − 39.5)/399 + 0.5) × 255 = 0.64 → 1
  want[2] = 1;
  for (const ts of [TS.explicitLE, TS.explicitBE, TS.implicitLE]) {
    const d = await decode({
      transferSyntax: ts,
      rows: 2,
      cols: 4,
      bitsAllocated: 16,
      bitsStored: 12,
      rescaleIntercept: -1024,
      rescaleSlope: 1,
      windowCenter: 40,
      windowWidth: 400,
      pixels: Uint16Array.from(stored),
    });
    assert.equal(d.bitDepth, 12);
    assert.deepEqual([...d.frames[0]!.image.data], want, ts);
    assert.ok(d.frames[0]!.labels instanceof Uint16Array);
    assert.deepEqual([...d.frames[0]!.labels!], stored);
  }
});

test("16-bit without a window stretches 0 .. 2^BitsStored − 1 to 0..255; bits above High Bit are ignored", async () => {
  const stored = [0, 1000, 2048, 4095];
  const d = await decode({
    transferSyntax: TS.explicitLE,
    rows: 1,
    cols: 4,
    bitsAllocated: 16,
    bitsStored: 12,
    pixels: Uint16Array.from(stored.map((v) => v | 0xf000)), // junk in the unused top bits
  });
  assert.deepEqual(
    [...d.frames[0]!.image.data],
    stored.map((v) => Math.round((v * 255) / 4095)),
  );
  assert.deepEqual([...d.frames[0]!.labels!], stored);
});

test("signed 16-bit without a window stretches the actual min..max; it has no raw labels", async () => {
  const d = await decode({
    transferSyntax: TS.explicitLE,
    rows: 1,
    cols: 3,
    bitsAllocated: 16,
    pixelRepresentation: 1,
    pixels: Int16Array.from([-1000, 0, 1000]),
  });
  assert.deepEqual([...d.frames[0]!.image.data], [0, 128, 255]);
  assert.equal(d.frames[0]!.labels, undefined);
});

test("LINEAR_EXACT and SIGMOID windows", async () => {
  const base = { transferSyntax: TS.explicitLE, rows: 1, cols: 3, windowCenter: 100, windowWidth: 100 };
  const exact = await decode({
    ...base,
    voiLutFunction: "LINEAR_EXACT",
    pixels: Uint8Array.from([50, 75, 151]),
  });
  assert.deepEqual([...exact.frames[0]!.image.data], [0, 64, 255]); // (75−100)/100 + 0.5 = 0.25 → 63.75
  const sig = await decode({ ...base, voiLutFunction: "SIGMOID", pixels: Uint8Array.from([100, 150, 0]) });
  assert.deepEqual([...sig.frames[0]!.image.data], [128, Math.round(255 / (1 + Math.exp(-2))), 5]);
});

test("RGB, planar configuration 0 and 1, to BT.601 luma", async () => {
  const rgb = [
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
    [10, 200, 30],
  ];
  const interleaved = Uint8Array.from(rgb.flat());
  const planes = Uint8Array.from([0, 1, 2].flatMap((c) => rgb.map((p) => p[c]!)));
  const want = rgb.map(([r, g, b]) => luma(r!, g!, b!));
  for (const [planar, pixels] of [
    [0, interleaved],
    [1, planes],
  ] as const) {
    const d = await decode({
      transferSyntax: TS.explicitLE,
      rows: 2,
      cols: 2,
      samplesPerPixel: 3,
      planarConfiguration: planar,
      pixels,
    });
    assert.equal(d.frames[0]!.colour, "rgb");
    assert.equal(d.frames[0]!.labels, undefined);
    assert.deepEqual([...d.frames[0]!.image.data], want, `planar ${planar}`);
  }
});

test("YBR_FULL and YBR_FULL_422 convert to RGB with the DICOM formulas", async () => {
  // Neutral chroma: the luma is Y itself.
  const neutral = await decode({
    transferSyntax: TS.explicitLE,
    rows: 1,
    cols: 2,
    samplesPerPixel: 3,
    photometric: "YBR_FULL",
    pixels: Uint8Array.from([30, 128, 128, 220, 128, 128]),
  });
  assert.deepEqual([...neutral.frames[0]!.image.data], [30, 220]);
  // Colours: YCbCr from RGB by the standard's forward formulas, back within rounding.
  const rgb = [
    [200, 40, 60],
    [20, 180, 90],
  ];
  const ybr = rgb.flatMap(([r, g, b]) => [
    Math.round(0.299 * r! + 0.587 * g! + 0.114 * b!),
    Math.round(-0.1687 * r! - 0.3313 * g! + 0.5 * b! + 128),
    Math.round(0.5 * r! - 0.4187 * g! - 0.0813 * b! + 128),
  ]);
  const full = await decode({
    transferSyntax: TS.explicitLE,
    rows: 1,
    cols: 2,
    samplesPerPixel: 3,
    photometric: "YBR_FULL",
    pixels: Uint8Array.from(ybr),
  });
  full.frames[0]!.image.data.forEach((v, i) =>
    assert.ok(Math.abs(v - luma(...(rgb[i] as [number, number, number]))) <= 1),
  );
  // 4:2:2: Y1 Y2 Cb Cr per pair of pixels.
  const d422 = await decode({
    transferSyntax: TS.explicitLE,
    rows: 1,
    cols: 4,
    samplesPerPixel: 3,
    photometric: "YBR_FULL_422",
    pixels: Uint8Array.from([10, 20, 128, 128, 90, 250, 128, 128]),
  });
  assert.deepEqual([...d422.frames[0]!.image.data], [10, 20, 90, 250]);
});

test("multi-frame: one frame each, named file#k; 'first' and 'refuse-multi'", async () => {
  const pixels = Uint8Array.from({ length: 3 * 4 }, (_, i) => i * 10);
  const spec = { transferSyntax: TS.explicitLE, rows: 2, cols: 2, frames: 3, pixels };
  const d = await decode(spec, "cine.dcm");
  assert.equal(d.frameCount, 3);
  assert.deepEqual(
    d.frames.map((f) => f.name),
    ["cine.dcm#1", "cine.dcm#2", "cine.dcm#3"],
  );
  d.frames.forEach((f, k) => assert.deepEqual([...f.image.data], [...pixels.subarray(4 * k, 4 * k + 4)]));
  const first = await decode(spec, "cine.dcm", { frames: "first" });
  assert.equal(first.frameCount, 3);
  assert.deepEqual(
    first.frames.map((f) => f.name),
    ["cine.dcm#1"],
  );
  await rejectsNaming(decode(spec, "cine.dcm", { frames: "refuse-multi" }), "cine.dcm", /has 3 frames/);
});

test("1-bit (Bits Allocated 1) frames, bits packed across frames", async () => {
  // Two 3x3 frames = 18 bits, least significant bit first.
  const bits = [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0];
  const packed = new Uint8Array(3);
  bits.forEach((b, i) => (packed[i >> 3] |= b << (i & 7)));
  const d = await decode({
    transferSyntax: TS.explicitLE,
    rows: 3,
    cols: 3,
    frames: 2,
    bitsAllocated: 1,
    pixels: packed,
  });
  assert.deepEqual([...d.frames[0]!.labels!], bits.slice(0, 9));
  assert.deepEqual(
    [...d.frames[1]!.image.data],
    bits.slice(9).map((b) => b * 255),
  );
  assert.deepEqual([...maskFromDecoded(d, d.frames[1]!)], bits.slice(9));
});

/** A smooth 32x24 grey test card (JPEG-friendly). */
function greyCard(): Uint8Array {
  return Uint8Array.from({ length: 32 * 24 }, (_, i) => 40 + ((i % 32) * 4 + Math.floor(i / 32) * 2));
}

test("JPEG Baseline: grey and colour frames decoded by sharp, within ±3; multi-frame and split fragments", async () => {
  const grey = greyCard();
  const jpegGrey = await sharp(grey, { raw: { width: 32, height: 24, channels: 1 } })
    .toColourspace("b-w")
    .jpeg({ quality: 95 })
    .toBuffer();
  const d = await decode({ transferSyntax: TS.jpegBaseline, rows: 24, cols: 32, fragments: [jpegGrey] });
  assert.equal(d.lossy, true);
  d.frames[0]!.image.data.forEach((v, i) =>
    assert.ok(Math.abs(v - grey[i]!) <= 3, `pixel ${i}: ${v} vs ${grey[i]}`),
  );

  // One JPEG split into two fragments.
  const cut = Math.floor(jpegGrey.length / 2);
  const split = await decode({
    transferSyntax: TS.jpegBaseline,
    rows: 24,
    cols: 32,
    fragments: [jpegGrey.subarray(0, cut), jpegGrey.subarray(cut)],
  });
  assert.deepEqual([...split.frames[0]!.image.data], [...d.frames[0]!.image.data]);

  // Colour (YBR_FULL_422 as ultrasound machines write it) in two frames.
  const rgb = Uint8Array.from({ length: 32 * 24 * 3 }, (_, i) => (i % 3 === 0 ? 180 : i % 3 === 1 ? 90 : 40));
  const jpegRgb = await sharp(rgb, { raw: { width: 32, height: 24, channels: 3 } })
    .jpeg({ quality: 95 })
    .toBuffer();
  const colour = await decode(
    {
      transferSyntax: TS.jpegBaseline,
      rows: 24,
      cols: 32,
      frames: 2,
      samplesPerPixel: 3,
      photometric: "YBR_FULL_422",
      fragments: [jpegRgb, jpegGrey],
    },
    "us.dcm",
  );
  assert.deepEqual(
    colour.frames.map((f) => f.name),
    ["us.dcm#1", "us.dcm#2"],
  );
  const want = luma(180, 90, 40);
  colour.frames[0]!.image.data.forEach((v) => assert.ok(Math.abs(v - want) <= 3, `${v} vs ${want}`));
  colour.frames[1]!.image.data.forEach((v, i) => assert.ok(Math.abs(v - grey[i]!) <= 3));
});

test("a JPEG Baseline mask is luma > 127", async () => {
  const binary = Uint8Array.from({ length: 32 * 24 }, (_, i) =>
    i % 32 < 12 && Math.floor(i / 32) > 5 ? 255 : 0,
  );
  const jpeg = await sharp(binary, { raw: { width: 32, height: 24, channels: 1 } })
    .toColourspace("b-w")
    .jpeg({ quality: 90 })
    .toBuffer();
  const d = await decode(
    { transferSyntax: TS.jpegBaseline, rows: 24, cols: 32, fragments: [jpeg] },
    "mask.dcm",
  );
  assert.ok(
    d.frames[0]!.image.data.some((v) => v !== 0 && v !== 255),
    "JPEG smears the two values",
  );
  assert.deepEqual(
    [...maskFromDecoded(d, d.frames[0]!)],
    [...binary].map((v) => (v > 127 ? 1 : 0)),
  );
  await rejectsNaming(
    Promise.resolve().then(() => maskFromDecoded(d, d.frames[0]!, { label: 255 })),
    "mask.dcm",
    /lossy/,
  );
});

test("Lossy Image Compression 01 marks an uncompressed file lossy", async () => {
  const d = await decode({
    transferSyntax: TS.explicitLE,
    rows: 3,
    cols: 4,
    lossyImageCompression: "01",
    pixels: ramp8,
  });
  assert.equal(d.lossy, true);
});

test("Pixel Spacing (0028,0030) is exposed on the decoded file, row then column; absent elsewhere", async () => {
  for (const ts of [TS.explicitLE, TS.implicitLE, TS.explicitBE, TS.deflatedLE]) {
    const d = await decode({
      transferSyntax: ts,
      rows: 3,
      cols: 4,
      pixels: ramp8,
      pixelSpacing: "0.1\\0.25",
    });
    assert.deepEqual(d.pixelSpacing, { row: 0.1, col: 0.25 }, ts);
  }
  const none = await decode({ transferSyntax: TS.explicitLE, rows: 3, cols: 4, pixels: ramp8 });
  assert.equal(none.pixelSpacing, undefined);
  // A malformed value is kept as NaN for the caller to refuse (the image itself still reads).
  const bad = await decode({
    transferSyntax: TS.explicitLE,
    rows: 3,
    cols: 4,
    pixels: ramp8,
    pixelSpacing: "0.1",
  });
  assert.ok(Number.isNaN(bad.pixelSpacing!.row) && Number.isNaN(bad.pixelSpacing!.col));
  assert.equal(bad.frames.length, 1);
});

test("unsupported transfer syntaxes are refused by name", async () => {
  for (const [uid, name] of [
    [TS.jpeg2000, /JPEG 2000 Lossless \(1\.2\.840\.10008\.1\.2\.4\.90\) is not supported/],
    [TS.jpegLs, /JPEG-LS Lossless/],
    [TS.rle, /RLE Lossless/],
    ["1.2.3.4.5", /transfer syntax 1\.2\.3\.4\.5 is not supported/],
  ] as const) {
    await rejectsNaming(
      decode(
        { transferSyntax: uid, rows: 2, cols: 2, fragments: [Uint8Array.from([1, 2, 3, 4])] },
        "j2k.dcm",
      ),
      "j2k.dcm",
      name,
    );
  }
});

test("broken DICOM files: one clear line naming the file", async () => {
  const good = encodeDicom({ transferSyntax: TS.explicitLE, rows: 8, cols: 8, pixels: new Uint8Array(64) });
  await rejectsNaming(
    decodeImage(good.subarray(0, good.length - 10), "cut.dcm"),
    "cut.dcm",
    /truncated DICOM/,
  );
  await rejectsNaming(
    decodeImage(good.subarray(0, 200), "head.dcm"),
    "head.dcm",
    /corrupt or truncated DICOM/,
  );
  await rejectsNaming(
    decode({ transferSyntax: TS.explicitLE, rows: 2, cols: 2, noPixelData: true }, "sr.dcm"),
    "sr.dcm",
    /without Pixel Data/,
  );
  await rejectsNaming(
    decode(
      {
        transferSyntax: TS.explicitLE,
        rows: 2,
        cols: 2,
        photometric: "PALETTE COLOR",
        pixels: new Uint8Array(4),
      },
      "pal.dcm",
    ),
    "pal.dcm",
    /"PALETTE COLOR" with 1 sample\(s\) per pixel is not supported/,
  );
  await rejectsNaming(
    decode({ transferSyntax: TS.explicitLE, rows: 0, cols: 2, pixels: new Uint8Array(4) }, "zero.dcm"),
    "zero.dcm",
    /0x0|2x0/,
  );
  await rejectsNaming(
    decode(
      {
        transferSyntax: TS.jpegBaseline,
        rows: 4,
        cols: 4,
        fragments: [Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 16])],
      },
      "badjpeg.dcm",
    ),
    "badjpeg.dcm",
    /cannot decode JPEG of DICOM frame 1/,
  );
});

test("extensionless DICOM files are recognised by their DICM marker and read from disk", async () => {
  const file = path.join(tmp, "IM0001");
  fs.writeFileSync(file, encodeDicom({ transferSyntax: TS.explicitLE, rows: 3, cols: 4, pixels: ramp8 }));
  assert.equal(isImageFile(file), true);
  fs.writeFileSync(path.join(tmp, "notes"), "plain text, not an image");
  assert.equal(isImageFile(path.join(tmp, "notes")), false);
  const d = await readImageFile(file);
  assert.equal(d.format, "dicom");
  assert.equal(d.frames[0]!.name, "IM0001");
});
