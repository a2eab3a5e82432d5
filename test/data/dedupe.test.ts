import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { formatReport } from "../../src/cli/commands/dedupe.js";
import { dedupeReport, signTrainDir } from "../../src/data/dedupe-report.js";
import { UserError } from "../../src/core/errors.js";
import {
  DEFAULT_DEDUPE_THRESHOLD,
  type DedupeFrame,
  findContradictions,
  frameSignature,
  pairDistances,
  planDedupe,
  signatureDistance,
} from "../../src/data/dedupe.js";
import { Rng } from "../../src/core/random.js";
import { readTiff, writeTiff } from "../../src/io/tiff.js";
import { SAMPLE_DIR, needsSample, tempDir } from "../helpers/sample.js";

const W = 120;
const H = 80;

/** A smooth random scene (a few Gaussian blobs) plus pixel noise. */
function scene(seed: number, noise = 0, gain = 1, offset = 0): Uint8Array {
  const r = new Rng(seed);
  const u = (lo: number, hi: number): number => lo + (hi - lo) * r.uniform();
  const blobs = Array.from({ length: 6 }, () => [u(0, W), u(0, H), u(8, 25), u(-90, 90)]);
  const n = new Rng(seed * 7919 + 1);
  const img = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let v = 120;
      for (const [bx, by, s, a] of blobs) v += a * Math.exp(-((x - bx) ** 2 + (y - by) ** 2) / (2 * s * s));
      v = v * gain + offset + (n.uniform() - 0.5) * 2 * noise;
      img[y * W + x] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  return img;
}

const frame = (id: string, subject: number, image: Uint8Array, hasMask: boolean): DedupeFrame => ({
  id,
  subject,
  image,
  width: W,
  height: H,
  hasMask,
});

test("the distance ignores brightness and contrast, sees a different scene", () => {
  const a = frameSignature(scene(1), W, H);
  assert.ok(signatureDistance(a, frameSignature(scene(1, 0, 0.8, 20), W, H)) < 1e-5);
  assert.ok(signatureDistance(a, frameSignature(scene(1, 6), W, H)) < DEFAULT_DEDUPE_THRESHOLD);
  assert.ok(signatureDistance(a, frameSignature(scene(2), W, H)) > 0.05);
  // 20x20 blocks: a 120x80 frame gives a 6x4 signature of unit length and zero mean.
  assert.equal(a.length, 24);
  assert.ok(Math.abs(a.reduce((s, v) => s + v * v, 0) - 1) < 1e-12);
  assert.ok(Math.abs(a.reduce((s, v) => s + v, 0)) < 1e-12);
  // Flat frames: equal to each other, unrelated to a textured one.
  const flat = frameSignature(new Uint8Array(W * H).fill(7), W, H);
  assert.equal(signatureDistance(flat, frameSignature(new Uint8Array(W * H).fill(9), W, H)), 0);
  assert.equal(signatureDistance(flat, a), 1);
});

test("finds contradicting near-duplicates within a subject only, empty frame first", () => {
  const frames = [
    frame("1_1", 1, scene(1), true),
    frame("1_2", 1, scene(1, 5), false), // the same scene, empty label: contradiction
    frame("1_3", 1, scene(1, 5, 1.1), true), // the same scene, labelled: no contradiction with 1_1
    frame("1_4", 1, scene(3), false), // another scene
    frame("2_1", 2, scene(1, 4), false), // same picture, other subject: never compared
  ];
  const c = findContradictions(frames);
  assert.deepEqual(c.map((p) => `${p.a}~${p.b}`).sort(), ["1_2~1_1", "1_2~1_3"]);
  assert.equal(c.length, 2);
  assert.ok(c.every((p) => p.subject === 1 && p.distance <= DEFAULT_DEDUPE_THRESHOLD));
  assert.ok(c[0].distance <= c[1].distance);
  assert.equal(
    pairDistances(frames).length,
    6 + 0,
    "4 frames of subject 1 -> 6 pairs, 1 frame of subject 2 -> 0",
  );
  assert.deepEqual(findContradictions(frames, 0), []);
});

test("policies: drop the empty frame, drop both, or relabel from the closest labelled partner", () => {
  const pairs = [
    { subject: 1, a: "1_2", b: "1_1", distance: 2e-5, contradicting: true },
    { subject: 1, a: "1_2", b: "1_3", distance: 1e-5, contradicting: true },
    { subject: 1, a: "1_9", b: "1_3", distance: 5e-5, contradicting: true },
  ];
  assert.deepEqual(planDedupe(pairs, "drop"), { drop: ["1_2", "1_9"], relabel: [] });
  assert.deepEqual(planDedupe(pairs, "drop-both"), { drop: ["1_1", "1_2", "1_3", "1_9"], relabel: [] });
  assert.deepEqual(planDedupe(pairs, "relabel"), {
    drop: [],
    relabel: [
      { id: "1_2", maskFrom: "1_3", distance: 1e-5 },
      { id: "1_9", maskFrom: "1_3", distance: 5e-5 },
    ],
  });
});

test("signTrainDir reads a Kaggle-style folder and names a missing mask", () => {
  const dir = tempDir();
  const empty = new Uint8Array(W * H);
  const mask = new Uint8Array(W * H);
  mask[500] = 255;
  writeTiff(path.join(dir, "3_1.tif"), { width: W, height: H, data: scene(5) });
  writeTiff(path.join(dir, "3_1_mask.tif"), { width: W, height: H, data: mask });
  writeTiff(path.join(dir, "3_2.tif"), { width: W, height: H, data: scene(5, 3) });
  writeTiff(path.join(dir, "3_2_mask.tif"), { width: W, height: H, data: empty });
  const frames = signTrainDir(dir);
  assert.deepEqual(
    frames.map((f) => [f.id, f.subject, f.hasMask]),
    [
      ["3_1", "3", true],
      ["3_2", "3", false],
    ],
  );
  const report = dedupeReport(frames, DEFAULT_DEDUPE_THRESHOLD, "relabel");
  assert.deepEqual(
    report.plan.relabel.map((r) => [r.id, r.maskFrom]),
    [["3_2", "3_1"]],
  );
  assert.match(formatReport(report), /3_2 <- mask of 3_1/);

  fs.rmSync(path.join(dir, "3_2_mask.tif"));
  assert.throws(
    () => signTrainDir(dir),
    (e: unknown) => e instanceof UserError && /3_2_mask\.tif: missing/.test(e.message),
  );
  assert.throws(() => signTrainDir(tempDir()), /no <subject>_<n>\.tif training images/);
});

test(
  "real sample: 1_9 (empty) and 1_14 (labelled) are found as a contradicting pair",
  { skip: needsSample },
  () => {
    const dir = path.join(SAMPLE_DIR, "train");
    const ids = fs
      .readdirSync(dir)
      .filter((f) => /^\d+_\d+\.tif$/.test(f))
      .map((f) => f.slice(0, -4));
    assert.equal(ids.length, 50);
    const frames: DedupeFrame[] = ids.map((id) => {
      const img = readTiff(path.join(dir, `${id}.tif`));
      const mask = readTiff(path.join(dir, `${id}_mask.tif`));
      return {
        id,
        subject: id.split("_")[0],
        image: img.data,
        width: img.width,
        height: img.height,
        hasMask: mask.data.some((v) => v > 0),
      };
    });
    const found = findContradictions(frames);
    const pair = found.find((p) => p.a === "1_9" && p.b === "1_14");
    assert.ok(pair, `1_9/1_14 not found; found ${JSON.stringify(found)}`);
    // It is the closest pair of the whole subject, well under the threshold.
    const all = pairDistances(frames);
    assert.equal(all.length, (50 * 49) / 2);
    assert.deepEqual([all[0].a, all[0].b], ["1_9", "1_14"]);
    assert.ok(pair.distance < DEFAULT_DEDUPE_THRESHOLD / 5);
    assert.deepEqual(planDedupe(found, "drop").drop, ["1_9"]);
    assert.deepEqual(planDedupe(found, "relabel").relabel[0], {
      id: "1_9",
      maskFrom: "1_14",
      distance: pair.distance,
    });
  },
);
