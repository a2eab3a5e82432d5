import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeImage, maskFromDecoded } from "../../src/io/image-read.js";
import { encodeBmp, type BmpSpec } from "../helpers/bmp-writer.js";
import { rejectsNaming } from "../helpers/errors.js";

/** BT.601 luma, rounded, written out independently of the code under test. */
const luma = (r: number, g: number, b: number): number => Math.round(0.299 * r + 0.587 * g + 0.114 * b);

async function decode(spec: BmpSpec, name = "scan.bmp") {
  const d = await decodeImage(encodeBmp(spec), name);
  assert.equal(d.format, "bmp");
  assert.equal(d.lossy, false);
  assert.equal(d.frames.length, 1);
  return { d, f: d.frames[0]! };
}

const palette: [number, number, number][] = [
  [0, 0, 0],
  [255, 255, 255],
  [200, 30, 60],
  [10, 220, 90],
  [40, 40, 40],
];

// 7x5: an odd width exercises the row padding to 4 bytes.
const W = 7;
const H = 5;
const indices = Array.from({ length: W * H }, (_, i) => (i * 3 + Math.floor(i / W)) % palette.length);

test("8-bit palette, bottom-up and top-down, every header size: indices and luma", async () => {
  for (const header of [12, 40, 52, 56, 108, 124] as const) {
    for (const topDown of [false, true]) {
      if (header === 12 && topDown) continue; // the core header has no top-down form in practice
      const { d, f } = await decode({
        width: W,
        height: H,
        bpp: 8,
        header,
        topDown,
        palette,
        pixels: indices,
      });
      assert.equal(d.bitDepth, 8);
      assert.equal(f.colour, "palette");
      assert.deepEqual([...f.labels!], indices, `header ${header} topDown ${topDown}`);
      assert.deepEqual(
        [...f.image.data],
        indices.map((k) => luma(...palette[k]!)),
      );
      assert.deepEqual([f.image.width, f.image.height], [W, H]);
    }
  }
});

test("1- and 4-bit palettes", async () => {
  const two: [number, number, number][] = [
    [0, 0, 0],
    [255, 255, 255],
  ];
  const bits = indices.map((k) => k % 2);
  const { d: d1, f: f1 } = await decode({ width: W, height: H, bpp: 1, palette: two, pixels: bits });
  assert.equal(d1.bitDepth, 1);
  assert.deepEqual([...f1.labels!], bits);
  assert.deepEqual(
    [...f1.image.data],
    bits.map((b) => b * 255),
  );
  assert.deepEqual([...maskFromDecoded(d1, f1)], bits);
  const { f: f4 } = await decode({ width: W, height: H, bpp: 4, palette, pixels: indices, topDown: true });
  assert.deepEqual([...f4.labels!], indices);
});

test("24-bit and 32-bit direct colour, bottom-up and top-down", async () => {
  const rgb = Array.from(
    { length: W * H },
    (_, i) => (((i * 37) % 256) << 16) | (((i * 91) % 256) << 8) | ((i * 13) % 256),
  );
  const want = rgb.map((v) => luma(v >> 16, (v >> 8) & 255, v & 255));
  for (const topDown of [false, true]) {
    const { d, f } = await decode({ width: W, height: H, bpp: 24, topDown, pixels: rgb });
    assert.equal(d.bitDepth, 8);
    assert.equal(f.colour, "rgb");
    assert.equal(f.labels, undefined);
    assert.deepEqual([...f.image.data], want, `24-bit topDown ${topDown}`);
    // 32-bit BI_RGB: 0x00RRGGBB words (the top byte, alpha or unused, is ignored).
    const { f: f32 } = await decode({
      width: W,
      height: H,
      bpp: 32,
      topDown,
      pixels: rgb.map((v) => v | 0x7f000000),
    });
    assert.deepEqual([...f32.image.data], want, `32-bit topDown ${topDown}`);
  }
});

test("16-bit 5-5-5 and BI_BITFIELDS 5-6-5 / custom 32-bit masks, in and after the header", async () => {
  // 5-5-5: each 5-bit channel widened as round(v * 255 / 31).
  const c555 = [
    [31, 0, 0],
    [0, 31, 0],
    [0, 0, 31],
    [16, 8, 4],
  ];
  const w = (v: number, max: number) => Math.round((v * 255) / max);
  const words555 = c555.map(([r, g, b]) => (r! << 10) | (g! << 5) | b!);
  const { d, f } = await decode({ width: 2, height: 2, bpp: 16, pixels: words555 });
  assert.equal(d.bitDepth, 5);
  assert.deepEqual(
    [...f.image.data],
    c555.map(([r, g, b]) => luma(w(r!, 31), w(g!, 31), w(b!, 31))),
  );
  const c565 = [
    [31, 63, 31],
    [1, 2, 3],
    [20, 40, 10],
    [0, 63, 0],
  ];
  const words565 = c565.map(([r, g, b]) => (r! << 11) | (g! << 5) | b!);
  const want565 = c565.map(([r, g, b]) => luma(w(r!, 31), w(g!, 63), w(b!, 31)));
  for (const header of [40, 56, 108, 124] as const) {
    const { d: d565, f: f565 } = await decode({
      width: 2,
      height: 2,
      bpp: 16,
      header,
      compression: "bitfields",
      masks: [0xf800, 0x07e0, 0x001f],
      pixels: words565,
    });
    assert.equal(d565.bitDepth, 6);
    assert.deepEqual([...f565.image.data], want565, `header ${header}`);
  }
  // 32-bit with masks in another order (BGR in the high bytes) and alpha bit fields.
  const rgb = [
    [255, 0, 0],
    [1, 2, 3],
    [90, 180, 45],
    [0, 0, 255],
  ];
  const words = rgb.map(([r, g, b]) => ((b! << 24) | (g! << 16) | (r! << 8) | 0x11) >>> 0);
  for (const compression of ["bitfields", "alphabitfields"] as const) {
    const { f: f32 } = await decode({
      width: 2,
      height: 2,
      bpp: 32,
      compression,
      masks: [0x0000ff00, 0x00ff0000, 0xff000000, ...(compression === "alphabitfields" ? [0x000000ff] : [])],
      pixels: words,
    });
    assert.deepEqual(
      [...f32.image.data],
      rgb.map(([r, g, b]) => luma(r!, g!, b!)),
      compression,
    );
  }
});

test("RLE8: runs and literal runs", async () => {
  const pixels = [0, 0, 0, 1, 2, 3, 4, ...indices.slice(0, 28)];
  const { d, f } = await decode({ width: W, height: H, bpp: 8, compression: "rle8", palette, pixels });
  assert.equal(d.bitDepth, 8);
  assert.deepEqual([...f.labels!], pixels);
});

test("refused and broken BMPs: one clear line naming the file", async () => {
  const ok = encodeBmp({ width: W, height: H, bpp: 24, pixels: new Array(W * H).fill(0x102030) });
  await rejectsNaming(
    decodeImage(ok.subarray(0, ok.length - 30), "cut.bmp"),
    "cut.bmp",
    /truncated BMP \(pixel data runs past the end\)/,
  );
  await rejectsNaming(decodeImage(ok.subarray(0, 30), "head.bmp"), "head.bmp", /truncated BMP \(header/);
  const rle4 = encodeBmp({ width: 2, height: 2, bpp: 4, palette, pixels: [0, 1, 2, 3] });
  new DataView(rle4.buffer).setUint32(30, 2, true);
  await rejectsNaming(decodeImage(rle4, "rle4.bmp"), "rle4.bmp", /RLE4-compressed BMP is not supported/);
  const png = encodeBmp({ width: 2, height: 2, bpp: 24, pixels: [0, 0, 0, 0] });
  new DataView(png.buffer).setUint32(30, 5, true);
  await rejectsNaming(decodeImage(png, "png.bmp"), "png.bmp", /embedded PNG/);
  const zero = encodeBmp({ width: 1, height: 1, bpp: 24, pixels: [0] });
  new DataView(zero.buffer).setInt32(18, 0, true);
  await rejectsNaming(decodeImage(zero, "zero.bmp"), "zero.bmp", /empty or invalid size \(0x1\)/);
  const huge = encodeBmp({ width: 1, height: 1, bpp: 24, pixels: [0] });
  new DataView(huge.buffer).setInt32(18, 100_000, true);
  new DataView(huge.buffer).setInt32(22, 100_000, true);
  await rejectsNaming(decodeImage(huge, "huge.bmp"), "huge.bmp", /image too large/);
  const badIndex = encodeBmp({ width: 2, height: 1, bpp: 8, palette: palette.slice(0, 2), pixels: [0, 4] });
  await rejectsNaming(
    decodeImage(badIndex, "idx.bmp"),
    "idx.bmp",
    /palette index 4 beyond the 2-colour palette/,
  );
  const rle = encodeBmp({ width: W, height: H, bpp: 8, compression: "rle8", palette, pixels: indices });
  await rejectsNaming(
    decodeImage(rle.subarray(0, rle.length - 2), "rle.bmp"),
    "rle.bmp",
    /RLE8 data ends without an end-of-bitmap mark/,
  );
});
