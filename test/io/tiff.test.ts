import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { UserError } from "../../src/core/errors.js";
import type { GreyImage } from "../../src/io/image.js";
import { decodeTiff, encodeTiff, readTiff, writeTiff } from "../../src/io/tiff.js";
import { SAMPLE_DIR, needsSample, tempDir } from "../helpers/sample.js";

// libtiff's own tools are the reference decoder; CI installs them (Debian: libtiff-tools).
const hasLibtiff = spawnSync("tiffdump", [], { stdio: "ignore" }).error === undefined;
const needsLibtiff: string | false = hasLibtiff
  ? false
  : "libtiff tools (tiffcp, tiffdump) not installed: apt-get install libtiff-tools";
const needsBoth = needsSample || needsLibtiff;

const tmp = tempDir("nerveseg-tiff-");

function sampleTifs(): string[] {
  if (needsSample) return [];
  return ["train", "test"].flatMap((d) =>
    fs
      .readdirSync(path.join(SAMPLE_DIR, d))
      .filter((n) => n.endsWith(".tif"))
      .map((n) => path.join(SAMPLE_DIR, d, n)),
  );
}

/** Runs tiffcp with `args` on `src` and returns the output path; libtiff must not even warn. */
function tiffcp(src: string, args: string[], name: string): string {
  const out = path.join(tmp, name);
  const r = spawnSync("tiffcp", [...args, src, out], { encoding: "utf8" });
  assert.equal(r.status, 0, `tiffcp ${args.join(" ")} ${src} failed: ${r.stderr}`);
  assert.equal(r.stderr, "", `libtiff warns on ${src}`);
  return out;
}

/**
 * The pixels libtiff decodes: tiffcp rewrites the file uncompressed in one little-endian strip, and the
 * strip is cut out at the offset tiffdump reports, so our reader is not involved.
 */
function libtiffPixels(file: string): {
  width: number;
  height: number;
  photometric: number;
  data: Uint8Array;
} {
  const plain = tiffcp(file, ["-c", "none", "-L", "-r", "1000000"], "plain.tif");
  const dump = execFileSync("tiffdump", [plain]).toString();
  const tag = (name: string, code: number): number => {
    const m = new RegExp(`${name} \\(${code}\\) \\w+ \\(\\d+\\) 1<(\\d+)>`).exec(dump);
    assert.ok(m, `tiffdump shows one ${name} value:\n${dump}`);
    return Number(m[1]);
  };
  const width = tag("ImageWidth", 256);
  const height = tag("ImageLength", 257);
  const offset = tag("StripOffsets", 273);
  assert.equal(tag("StripByteCounts", 279), width * height);
  const bytes = fs.readFileSync(plain);
  return {
    width,
    height,
    photometric: tag("Photometric", 262),
    data: bytes.subarray(offset, offset + width * height),
  };
}

function assertSameImage(actual: GreyImage, expected: GreyImage, what: string): void {
  assert.equal(actual.width, expected.width, `${what}: width`);
  assert.equal(actual.height, expected.height, `${what}: height`);
  assert.equal(actual.data.length, expected.width * expected.height, `${what}: data length`);
  assert.ok(Buffer.from(actual.data).equals(Buffer.from(expected.data)), `${what}: pixels differ`);
}

/** A little PRNG so that synthetic images are the same on every run. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s >>> 24;
  };
}

function synthetic(): Array<{ name: string; img: GreyImage }> {
  const make = (name: string, width: number, height: number, f: (x: number, y: number) => number) => {
    const data = new Uint8Array(width * height);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = f(x, y) & 0xff;
    return { name, img: { width, height, data } };
  };
  const r = lcg(7);
  const r2 = lcg(11);
  return [
    make("1x1", 1, 1, () => 200),
    make("3x2", 3, 2, (x, y) => x * 90 + y),
    make("zeros", 580, 420, () => 0),
    make("ones-run", 37, 1000, () => 255), // long runs: many KwKwK codes
    make("gradient", 300, 200, (x, y) => x + 2 * y),
    make("noise", 580, 420, () => r()), // incompressible: 12-bit codes and many table resets
    make("few-levels", 700, 300, () => r2() & 3),
    make("wide", 9000, 3, (x, y) => (x * 7) ^ y), // wider than libtiff's 8 KB strip: one row per strip
  ];
}

/** Rewrites one directory entry of a little-endian TIFF (optionally renaming the tag to `newCode`). */
function leTagPatch(
  bytes: Uint8Array,
  tagCode: number,
  type: number,
  count: number,
  value: number,
  newCode = tagCode,
): Uint8Array {
  const out = Uint8Array.from(bytes);
  const v = new DataView(out.buffer);
  assert.equal(v.getUint16(0, true), 0x4949, "patching needs a little-endian file");
  const ifd = v.getUint32(4, true);
  const n = v.getUint16(ifd, true);
  for (let i = 0; i < n; i++) {
    const at = ifd + 2 + 12 * i;
    if (v.getUint16(at, true) !== tagCode) continue;
    v.setUint16(at, newCode, true);
    v.setUint16(at + 2, type, true);
    v.setUint32(at + 4, count, true);
    v.setUint32(at + 8, 0, true);
    if (type === 3) v.setUint16(at + 8, value, true);
    else v.setUint32(at + 8, value, true);
    return out;
  }
  throw new Error(`tag ${tagCode} not in the file`);
}

function rejects(bytes: Uint8Array, pattern: RegExp, name = "bad.tif"): void {
  assert.throws(
    () => decodeTiff(bytes, name),
    (e: unknown) => e instanceof UserError && e.message.startsWith(`${name}: `) && pattern.test(e.message),
  );
}

test("every sample TIFF decodes to exactly libtiff's pixels", { skip: needsBoth }, () => {
  const files = sampleTifs();
  assert.equal(files.length, 150);
  for (const f of files) {
    const ours = readTiff(f);
    assert.equal(ours.width, 580);
    assert.equal(ours.height, 420);
    assertSameImage(ours, libtiffPixels(f), f);
  }
});

test("sample masks hold only 0 and 255", { skip: needsSample }, () => {
  const img = readTiff(path.join(SAMPLE_DIR, "train", "1_14_mask.tif"));
  const values = new Set(img.data);
  assert.deepEqual(
    [...values].sort((a, b) => a - b),
    [0, 255],
  );
});

test("big-endian, multi-strip and predictor-2 variants decode like libtiff", { skip: needsBoth }, () => {
  for (const name of ["train/1_1.tif", "train/1_14_mask.tif", "test/7.tif"]) {
    const src = path.join(SAMPLE_DIR, name);
    const want = libtiffPixels(src);
    const variants: Array<[string, string[]]> = [
      ["big-endian LZW", ["-B"]],
      ["big-endian none, multi-strip", ["-B", "-c", "none", "-r", "16"]],
      ["16-row strips", ["-r", "16"]],
      ["1-row strips", ["-r", "1"]],
      ["predictor 2", ["-c", "lzw:2"]],
      ["uncompressed", ["-c", "none"]],
    ];
    for (const [what, args] of variants) {
      assertSameImage(readTiff(tiffcp(src, args, "variant.tif")), want, `${name} ${what}`);
    }
  }
});

test("our LZW and uncompressed files read back identically, through us and through libtiff", () => {
  const dir = tempDir();
  const images = synthetic();
  if (!needsSample) {
    for (const n of ["train/1_1.tif", "train/1_14_mask.tif", "train/1_9_mask.tif", "test/50.tif"]) {
      images.push({ name: n, img: readTiff(path.join(SAMPLE_DIR, n)) });
    }
  }
  for (const { name, img } of images) {
    for (const compression of ["lzw", "none"] as const) {
      for (const rowsPerStrip of [undefined, img.height, 5]) {
        const what = `${name} ${compression} rows/strip ${rowsPerStrip ?? "default"}`;
        const bytes = encodeTiff(img, { compression, rowsPerStrip });
        assertSameImage(decodeTiff(bytes, what), img, `${what} (ours)`);
        if (hasLibtiff) {
          const file = path.join(dir, "ours.tif");
          fs.writeFileSync(file, bytes);
          assertSameImage(libtiffPixels(file), img, `${what} (libtiff)`);
        }
      }
    }
  }
});

test("LZW output is smaller than the raw pixels on compressible images and starts with a Clear code", () => {
  const img = synthetic().find((s) => s.name === "gradient")!.img;
  const lzw = encodeTiff(img, { rowsPerStrip: img.height });
  const raw = encodeTiff(img, { compression: "none" });
  assert.ok(lzw.length < raw.length / 2, `${lzw.length} vs ${raw.length}`);
  // The strip starts at offset 8; 256 (Clear) in 9 MSB-first bits is 0x80 then a 0 bit.
  assert.equal(lzw[8], 0x80);
});

test("writeTiff writes atomically and the default is LZW in ~8 KB strips, as libtiff", () => {
  const dir = tempDir();
  const file = path.join(dir, "sub", "m.tif");
  const img = synthetic().find((s) => s.name === "gradient")!.img;
  writeTiff(file, img);
  assert.deepEqual(fs.readdirSync(path.join(dir, "sub")), ["m.tif"]);
  const bytes = fs.readFileSync(file);
  assertSameImage(decodeTiff(bytes, file), img, "writeTiff");
  if (hasLibtiff) {
    const dump = execFileSync("tiffdump", [file]).toString();
    assert.match(dump, /Compression \(259\) SHORT \(3\) 1<5>/);
    assert.match(dump, /RowsPerStrip \(278\) LONG \(4\) 1<27>/); // floor(8192 / 300)
    assert.match(dump, /StripOffsets \(273\) LONG \(4\) 8</); // ceil(200 / 27) strips
  }
});

test("WhiteIsZero is inverted so that 0 is always black", () => {
  const img = synthetic().find((s) => s.name === "gradient")!.img;
  const bytes = leTagPatch(encodeTiff(img, { compression: "none" }), 262, 3, 1, 0);
  const got = decodeTiff(bytes, "wiz.tif");
  assert.deepEqual(Array.from(got.data.subarray(0, 5)), [255, 254, 253, 252, 251]);
  assert.ok(got.data.every((v, i) => v === 255 - img.data[i]!));
});

test("StripOffsets, StripByteCounts and RowsPerStrip may be SHORT", () => {
  const img = synthetic().find((s) => s.name === "3x2")!.img;
  let bytes = encodeTiff(img, { compression: "none" });
  bytes = leTagPatch(bytes, 273, 3, 1, 8);
  bytes = leTagPatch(bytes, 279, 3, 1, 6);
  bytes = leTagPatch(bytes, 278, 3, 1, 2);
  assertSameImage(decodeTiff(bytes, "short.tif"), img, "SHORT strip tags");
});

test("malformed headers and unsupported layouts give one clear error naming the file", () => {
  const img = synthetic().find((s) => s.name === "gradient")!.img;
  const lzw = encodeTiff(img, { rowsPerStrip: img.height });
  const none = encodeTiff(img, { compression: "none", rowsPerStrip: img.height });

  rejects(new Uint8Array([1, 2, 3]), /not a TIFF \(only 3 bytes\)/);
  rejects(Uint8Array.from([0x50, 0x4b, 3, 4, 0, 0, 0, 0, 0, 0]), /bad magic/);
  rejects(Uint8Array.from([0x49, 0x49, 41, 0, 8, 0, 0, 0]), /bad magic: version 41/);
  rejects(
    Uint8Array.from([0x49, 0x49, 43, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    /BigTIFF is not supported/,
  );
  rejects(lzw.subarray(0, 100), /truncated.*directory.*past the end/);
  rejects(lzw.subarray(0, lzw.length - 40), /truncated/);
  rejects(leTagPatch(lzw, 258, 3, 1, 16), /16-bit samples are not supported/);
  rejects(leTagPatch(lzw, 262, 3, 1, 2), /RGB images are not supported/);
  rejects(leTagPatch(lzw, 262, 3, 1, 3), /palette images are not supported/);
  rejects(leTagPatch(lzw, 277, 3, 1, 3), /3 samples per pixel are not supported/);
  rejects(leTagPatch(lzw, 259, 3, 1, 8), /Deflate compression is not supported/);
  rejects(leTagPatch(lzw, 259, 3, 1, 7), /JPEG compression is not supported/);
  rejects(leTagPatch(lzw, 259, 3, 1, 999), /compression 999 is not supported/);
  rejects(leTagPatch(lzw, 305, 3, 1, 3, 317), /predictor 3 is not supported/, "pred3.tif");
  rejects(leTagPatch(leTagPatch(none, 256, 4, 1, 20000), 257, 4, 1, 20000), /image too large/);
  rejects(leTagPatch(none, 256, 3, 1, 0), /empty image/);
  // Strip tags that point past the end, or a strip that holds too few bytes.
  rejects(leTagPatch(lzw, 279, 4, 1, lzw.length), /strip 0 .* runs past the end of the file/);
  rejects(leTagPatch(lzw, 273, 4, 1, lzw.length + 10), /strip 0 .* runs past the end of the file/);
  rejects(leTagPatch(lzw, 279, 4, 1, 300), /strip 0 decodes to \d+ bytes, expected 60000/);
  rejects(leTagPatch(none, 279, 4, 1, 59999), /strip 0 decodes to 59999 bytes, expected 60000/);
});

test("predictor 2 (horizontal differencing) is undone", () => {
  const img = synthetic().find((x) => x.name === "noise")!.img;
  const diff = new Uint8Array(img.data.length);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const i = y * img.width + x;
      diff[i] = (img.data[i]! - (x > 0 ? img.data[i - 1]! : 0)) & 0xff;
    }
  }
  // Our files end with the Software tag (305); turning it into Predictor (317) keeps the tags sorted.
  for (const compression of ["lzw", "none"] as const) {
    const bytes = encodeTiff({ ...img, data: diff }, { compression });
    const patched = leTagPatch(bytes, 305, 3, 1, 2, 317);
    assertSameImage(decodeTiff(patched, "pred2.tif"), img, `predictor 2 ${compression}`);
  }
});

test("tiled, Deflate, JPEG and PackBits files from libtiff are rejected clearly", { skip: needsBoth }, () => {
  const src = path.join(SAMPLE_DIR, "train", "1_1.tif");
  const cases: Array<[string[], RegExp]> = [
    [["-t"], /tiled TIFF is not supported/],
    [["-c", "zip"], /Deflate compression is not supported/],
    [["-c", "jpeg"], /JPEG compression is not supported/],
    [["-c", "packbits"], /PackBits compression is not supported/],
  ];
  for (const [args, pattern] of cases) {
    const f = tiffcp(src, args, "reject.tif");
    assert.throws(
      () => readTiff(f),
      (e: unknown) => e instanceof UserError && e.message.startsWith(f) && pattern.test(e.message),
      args.join(" "),
    );
  }
});

test("readTiff names a missing file", () => {
  assert.throws(
    () => readTiff("/nonexistent/x.tif"),
    /^UserError: \/nonexistent\/x\.tif: cannot read \(ENOENT\)$/,
  );
});

test("corrupted LZW data never hangs or crashes: a correctly sized image or a UserError", () => {
  const img = synthetic().find((s) => s.name === "gradient")!.img;
  const good = encodeTiff(img, { rowsPerStrip: img.height });
  const rand = lcg(3);
  let errors = 0;
  for (let trial = 0; trial < 300; trial++) {
    const bad = Uint8Array.from(good);
    const flips = 1 + (rand() % 4);
    for (let k = 0; k < flips; k++) {
      // Hit the strip data mostly, sometimes the header and directory.
      const at =
        trial % 5 === 0 ? (rand() * 256 + rand()) % bad.length : 8 + ((rand() * 256 + rand()) % 2000);
      bad[at] = rand();
    }
    try {
      const got = decodeTiff(bad, "fuzz.tif");
      assert.equal(got.data.length, got.width * got.height);
    } catch (e) {
      assert.ok(e instanceof UserError, `trial ${trial}: ${String(e)}`);
      errors++;
    }
  }
  assert.ok(errors > 0, "some corruptions must be detected");
});
