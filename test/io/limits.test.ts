import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import zlib from "node:zlib";
import sharp from "sharp";
import { UserError } from "../../src/core/errors.js";
import { decodeInOrder, type DecodeResult } from "../../src/data/decode-pool.js";
import { decodeImage, readImageFile } from "../../src/io/image-read.js";
import { inflateSyncUpTo, inflateUpTo } from "../../src/io/inflate.js";
import {
  DEFAULT_DECODE_LIMITS,
  checkBudget,
  decodeLimits,
  maxImageFileBytes,
  setDecodeLimits,
} from "../../src/io/limits.js";
import { readRegularFileSync } from "../../src/io/read-file.js";
import { encodeTiff } from "../../src/io/tiff.js";
import { gifOfPixels, tiffOfPages } from "../fuzz/bombs.js";
import { encodeDicom, TS } from "../helpers/dicom-writer.js";
import { rejectsNaming } from "../helpers/errors.js";
import { tempDir } from "../helpers/sample.js";

const tmp = tempDir("nerveseg-limits-");
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function throwsNaming(fn: () => unknown, file: string, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `a UserError, got ${String(e)}`);
    assert.ok(e.message.startsWith(`${file}: `) && !e.message.includes("\n"), e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

/** A PNG by hand: any colour type and bit depth, the given raw (filtered) scanlines. */
function png(
  width: number,
  height: number,
  bitDepth: number,
  colourType: number,
  scanlines: Uint8Array,
): Buffer {
  const chunk = (type: string, body: Uint8Array): Buffer => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(body.length, 0);
    head.write(type, 4, "latin1");
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), body])) >>> 0);
    return Buffer.concat([head, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colourType;
  const plte = colourType === 3 ? [chunk("PLTE", Uint8Array.from([0, 0, 0, 255, 255, 255]))] : [];
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    ...plte,
    chunk("IDAT", zlib.deflateSync(scanlines, { level: 9 })),
    chunk("IEND", new Uint8Array(0)),
  ]);
}

test("limits: defaults, set and read back, bad values refused naming the flag", () => {
  assert.deepEqual(decodeLimits(), { ...DEFAULT_DECODE_LIMITS });
  try {
    setDecodeLimits({ maxFrames: 5 });
    assert.equal(decodeLimits().maxFrames, 5);
    assert.equal(decodeLimits().maxPixels, DEFAULT_DECODE_LIMITS.maxPixels);
    assert.throws(() => setDecodeLimits({ maxPixels: 0 }), /--max-pixels must be a positive number, got 0/);
    assert.throws(
      () => setDecodeLimits({ maxExpansion: Number.NaN }),
      /--max-expansion must be a positive number/,
    );
    assert.equal(decodeLimits().maxFrames, 5, "a refused setting changes nothing");
  } finally {
    setDecodeLimits(DEFAULT_DECODE_LIMITS);
  }
});

test("checkBudget: frame size, frames, total pixels, expansion, in that order, each naming its flag", () => {
  const limits = { maxPixels: 100, maxFrames: 3, maxTotalPixels: 250, maxExpansion: 10 };
  const ok = { frames: 2, width: 10, height: 10, totalPixels: 200, sampleBytes: 200, fileBytes: 20 };
  checkBudget("f", ok, limits);
  throwsNaming(
    () => checkBudget("f", { ...ok, width: 11, frames: 9 }, limits),
    "f",
    /^f: image too large \(11x10 = 110 pixels\): over the limit of 100 pixels per frame \(raise it with --max-pixels\)$/,
  );
  throwsNaming(
    () => checkBudget("f", { ...ok, frames: 4 }, limits),
    "f",
    /^f: 4 frames: over the limit of 3 frames per file \(raise it with --max-frames\)$/,
  );
  throwsNaming(
    () => checkBudget("f", { ...ok, totalPixels: 300 }, limits),
    "f",
    /^f: 2 frame\(s\) of up to 10x10, 300 pixels in all: over the limit of 250 pixels per file \(raise it with --max-total-pixels\)$/,
  );
  throwsNaming(
    () => checkBudget("f", { ...ok, fileBytes: 19 }, limits),
    "f",
    /^f: the header promises 200 bytes of samples from 19 bytes \(11x\): over the limit of 10x expansion \(raise it with --max-expansion\)$/,
  );
  assert.ok(maxImageFileBytes(limits) >= 250 * 8, "an uncompressed file within the limits can be read");
});

test("readRegularFileSync: regular files only (a folder, FIFO, /dev/zero are one line), capped in size", () => {
  const file = path.join(tmp, "a.bin");
  fs.writeFileSync(file, new Uint8Array(100).fill(7));
  const limit = { maxBytes: 100, reason: "the limit of the test", what: "a test file" };
  assert.deepEqual([...readRegularFileSync(file, limit)], new Array(100).fill(7));
  throwsNaming(
    () => readRegularFileSync(file, { ...limit, maxBytes: 99 }),
    file,
    /^.*: 100 bytes: larger than 99 bytes \(the limit of the test\)$/,
  );
  throwsNaming(() => readRegularFileSync(tmp, limit), tmp, /is a folder, not a test file$/);
  throwsNaming(
    () => readRegularFileSync("/dev/zero", limit),
    "/dev/zero",
    /is a character device: only regular files are read$/,
  );
  const link = path.join(tmp, "zero-link");
  fs.symlinkSync("/dev/zero", link);
  throwsNaming(() => readRegularFileSync(link, limit), link, /is a character device/);
  const fifo = path.join(tmp, "fifo");
  assert.equal(spawnSync("mkfifo", [fifo]).status, 0);
  // Without a writer, opening it for reading would wait forever; it is refused at once.
  throwsNaming(
    () => readRegularFileSync(fifo, limit),
    fifo,
    /is a FIFO \(named pipe\): only regular files are read$/,
  );
  throwsNaming(
    () => readRegularFileSync(path.join(tmp, "none"), limit),
    path.join(tmp, "none"),
    /cannot read \(ENOENT\)$/,
  );
});

test("inflate: stops at the cap without producing the rest; complete streams and corrupt ones", async () => {
  const big = zlib.deflateRawSync(new Uint8Array(64 * 2 ** 20)); // 64 MiB of zeros in ~64 KB
  const capped = await inflateUpTo(big, 2 ** 20);
  assert.equal(capped.complete, false);
  assert.equal(capped.data.length, 2 ** 20);
  const small = await inflateUpTo(zlib.deflateRawSync(Buffer.from("hello")), 2 ** 20);
  assert.deepEqual(small, { data: Buffer.from("hello"), complete: true });
  await assert.rejects(inflateUpTo(Uint8Array.from([0xff, 0xff, 0xff]), 100), { code: "Z_DATA_ERROR" });
  const z = zlib.deflateSync(new Uint8Array(5000));
  assert.equal(inflateSyncUpTo(z, 4999), null);
  assert.equal(inflateSyncUpTo(z, 5000)!.length, 5000);
});

test("readImageFile's limits: a file over any of them is refused before decoding, in every frame mode", async () => {
  const grey = await sharp(Buffer.alloc(100 * 80, 9), { raw: { width: 100, height: 80, channels: 1 } })
    .png()
    .toBuffer();
  await rejectsNaming(
    decodeImage(grey, "g.png", { limits: { maxPixels: 7999 } }),
    "g.png",
    /\(100x80 = 8,000 pixels\): over the limit of 7,999 pixels per frame \(raise it with --max-pixels\)$/,
  );
  assert.equal((await decodeImage(grey, "g.png", { limits: { maxPixels: 8000 } })).frames.length, 1);

  const pages = tiffOfPages([
    { width: 8, height: 6 },
    { width: 8, height: 6 },
    { width: 8, height: 6 },
  ]);
  const gif = gifOfPixels(8, 6, 3);
  const cine = encodeDicom({
    transferSyntax: TS.explicitLE,
    rows: 6,
    cols: 8,
    frames: 3,
    pixels: new Uint8Array(144),
  });
  for (const [name, bytes] of [
    ["p.tif", pages],
    ["a.gif", gif],
    ["c.dcm", cine],
  ] as const) {
    for (const frames of ["all", "first"] as const)
      await rejectsNaming(
        decodeImage(bytes, name, { frames, limits: { maxFrames: 2 } }),
        name,
        /^.*: 3 frames: over the limit of 2 frames per file \(raise it with --max-frames\)$/,
      );
    await rejectsNaming(
      decodeImage(bytes, name, { limits: { maxTotalPixels: 143 } }),
      name,
      /144 pixels in all: over the limit of 143 pixels per file \(raise it with --max-total-pixels\)$/,
    );
    assert.equal(
      (await decodeImage(bytes, name, { limits: { maxFrames: 3, maxTotalPixels: 144 } })).frames.length,
      3,
      name,
    );
  }
  // Each format's header is checked against what its bytes can hold.
  const tif = encodeTiff({ width: 40, height: 40, data: new Uint8Array(1600) });
  await rejectsNaming(
    decodeImage(tif, "t.tif", { limits: { maxExpansion: 1 } }),
    "t.tif",
    /over the limit of 1x expansion \(raise it with --max-expansion\)$/,
  );
});

test("legitimate extremes pass the expansion limit: all-zero masks in deflate (1-bit and 8-bit PNG) and LZW (GIF)", async () => {
  // 1-bit: 2000x2000 all zero deflates to a few hundred bytes; counted in bytes of samples it is within 1,032x.
  const oneBit = png(2000, 2000, 1, 0, new Uint8Array(2000 * 251));
  const d1 = await decodeImage(oneBit, "one-bit.png");
  assert.equal(d1.frames[0]!.image.width, 2000);
  const eightBit = png(1500, 1000, 8, 0, new Uint8Array(1000 * 1501));
  assert.ok((1500 * 1000) / eightBit.length > 500, `${eightBit.length} bytes: near deflate's best`);
  assert.equal((await decodeImage(eightBit, "zero.png")).frames.length, 1);
  const palette = png(2000, 1000, 1, 3, new Uint8Array(1000 * 251));
  assert.equal((await decodeImage(palette, "zero-palette.png")).frames[0]!.colour, "palette");
  const gif = await sharp(Buffer.alloc(1000 * 1000), { raw: { width: 1000, height: 1000, channels: 1 } })
    .gif()
    .toBuffer();
  assert.equal((await decodeImage(gif, "zero.gif")).frames.length, 1);
});

test("header and data must agree: a palette PNG whose data holds more than its size, a TIFF strip past the end", async () => {
  const over = png(16, 16, 1, 3, new Uint8Array(64 * 1000));
  await rejectsNaming(
    decodeImage(over, "over.png"),
    "over.png",
    /corrupt PNG: the image data holds more than the 16x16 pixels of its header$/,
  );
  const tif = encodeTiff(
    { width: 16, height: 16, data: new Uint8Array(256).fill(3) },
    { compression: "none" },
  );
  await rejectsNaming(decodeImage(tif.subarray(0, 100), "short.tif"), "short.tif", /truncated|past the end/);
});

test("TIFF pages of different sizes: decoded in runs of alike pages, each frame its own size", async () => {
  const sizes = [
    { width: 8, height: 6, value: 10 },
    { width: 8, height: 6, value: 20 },
    { width: 5, height: 4, value: 30 },
    { width: 8, height: 6, value: 40 },
  ];
  const d = await decodeImage(tiffOfPages(sizes), "mixed.tif");
  assert.deepEqual(
    d.frames.map((f) => [f.name, f.image.width, f.image.height, f.image.data[0]]),
    sizes.map((s, k) => [`mixed.tif#${k + 1}`, s.width, s.height, s.value]),
  );
  assert.ok(d.frames.every((f) => f.image.data.length === f.image.width * f.image.height));
});

test("the decode workers read under this thread's limits", async () => {
  const file = path.join(tmp, "w.png");
  fs.writeFileSync(
    file,
    await sharp(Buffer.alloc(50 * 40), { raw: { width: 50, height: 40, channels: 1 } })
      .png()
      .toBuffer(),
  );
  const job = { index: 0, image: file, masks: null, width: null, height: null, frames: "all" as const };
  const results: DecodeResult[] = [];
  try {
    setDecodeLimits({ maxPixels: 1999 });
    await decodeInOrder([job], (r) => results.push(r), 1);
  } finally {
    setDecodeLimits(DEFAULT_DECODE_LIMITS);
  }
  await decodeInOrder([job], (r) => results.push(r), 1);
  assert.equal(results[0]!.ok, false);
  assert.match(
    (results[0] as { error: string }).error,
    /over the limit of 1,999 pixels per frame \(raise it with --max-pixels\)$/,
  );
  assert.equal(results[1]!.ok, true);
});

test("readImageFile: an image file over the size of any image within the limits is refused before it is read", async () => {
  const file = path.join(tmp, "huge.png");
  fs.writeFileSync(file, Buffer.alloc(3000));
  // 100 pixels allow 800 bytes + 64 MiB of metadata: shrink that with a sparse file past it.
  fs.truncateSync(file, 70 * 2 ** 20);
  await rejectsNaming(
    readImageFile(file, { limits: { maxTotalPixels: 100 } }),
    file,
    /^.*: 70 MiB: larger than 64 MiB \(the largest image within the limits: 8 bytes per pixel of --max-total-pixels\)$/,
  );
});
