import assert from "node:assert/strict";
import { test } from "node:test";
import { UserError } from "../../src/core/errors.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../../src/io/image.js";
import {
  DEFAULT_POSTPROCESS,
  maskArea,
  parsePostprocess,
  postprocess,
  type PostprocessParams,
} from "../../src/postprocess/mask-rule.js";

const W = KAGGLE_WIDTH;
const H = KAGGLE_HEIGHT;
const params = (p: Partial<PostprocessParams>): PostprocessParams => ({ ...DEFAULT_POSTPROCESS, ...p });

/** A map at 58x42 (a tenth of 580x420) rising left to right: p(x) = (x + 0.5) / 58. */
function ramp(): Float32Array {
  const p = new Float32Array(58 * 42);
  for (let y = 0; y < 42; y++) for (let x = 0; x < 58; x++) p[y * 58 + x] = (x + 0.5) / 58;
  return p;
}

/** The columns that are on in every row (asserting the mask is the same in each row). */
function onColumns(mask: Uint8Array): number[] {
  const cols: number[] = [];
  for (let x = 0; x < W; x++) if (mask[x]) cols.push(x);
  for (let y = 1; y < H; y++) for (let x = 0; x < W; x++) assert.equal(mask[y * W + x], mask[x]);
  return cols;
}

test("the map is upsampled (bilinear, half-pixel centres) before it is thresholded", () => {
  // Upsampled, the ramp is (X + 0.5) / 580 at column X, so > 0.3 from X = 174 on. Thresholding at model
  // resolution first would switch on at low-res column 17, i.e. X = 170.
  const mask = postprocess({ data: ramp(), width: 58, height: 42 }, 1, params({ pixelThreshold: 0.3 }));
  assert.equal(mask.length, W * H);
  const cols = onColumns(mask);
  assert.equal(cols[0], 174);
  assert.equal(cols.length, W - 174);
  assert.ok(mask.every((v) => v === 0 || v === 1));
});

test("bytes (probability x 255) and floats give the same mask", () => {
  const f = ramp();
  const b = new Uint8Array(f.length);
  const fq = new Float32Array(f.length);
  for (let i = 0; i < f.length; i++) {
    b[i] = Math.round(f[i] * 255);
    fq[i] = b[i] / 255;
  }
  const p = params({ pixelThreshold: 0.62 });
  assert.deepEqual(
    postprocess({ data: b, width: 58, height: 42 }, 1, p),
    postprocess({ data: fq, width: 58, height: 42 }, 1, p),
  );
});

test("presence threshold empties the mask below it (and only below it)", () => {
  const prob = { data: ramp(), width: 58, height: 42 };
  const p = params({ presenceThreshold: 0.4 });
  assert.equal(maskArea(postprocess(prob, 0.39, p)), 0);
  assert.equal(maskArea(postprocess(prob, 0.4, p)), (W - 290) * H);
  assert.equal(maskArea(postprocess(prob, 0.0, params({ presenceThreshold: 0 }))), (W - 290) * H);
});

test("minimum area counts pixels at 580x420 and empties smaller masks", () => {
  const prob = { data: ramp(), width: 58, height: 42 };
  const area = (W - 290) * H; // 121,800 px above 0.5
  assert.equal(maskArea(postprocess(prob, 1, params({ minArea: area }))), area);
  assert.equal(maskArea(postprocess(prob, 1, params({ minArea: area + 1 }))), 0);
});

/** A full-resolution map of zeros with `value` on the given rectangles [x0, y0, x1, y1) . */
function rects(value: number, ...rs: [number, number, number, number][]): Float32Array {
  const p = new Float32Array(W * H);
  for (const [x0, y0, x1, y1] of rs)
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) p[y * W + x] = value;
  return p;
}

test("51x51 box blur: a 20x20 square survives threshold 0.15 only where the window covers all of it", () => {
  // Full coverage gives 400/2601 = 0.1538; missing one row or column gives 380/2601 = 0.1461. The window
  // holds the whole square (x, y in 100..119) when its centre is in 94..125: a 32x32 block.
  const prob = { data: rects(1, [100, 100, 120, 120]), width: W, height: H };
  const mask = postprocess(prob, 1, params({ pixelThreshold: 0.15, blur: { kind: "box", size: 51 } }));
  assert.equal(maskArea(mask), 32 * 32);
  for (let y = 94; y <= 125; y++) for (let x = 94; x <= 125; x++) assert.equal(mask[y * W + x], 1);
  // Without the blur the square is the mask.
  assert.equal(maskArea(postprocess(prob, 1, params({ pixelThreshold: 0.15 }))), 400);
});

test("gaussian blur smooths a blocky map: a lone bright pixel vanishes, a big square stays", () => {
  const prob = { data: rects(1, [300, 200, 301, 201], [100, 100, 160, 160]), width: W, height: H };
  const mask = postprocess(prob, 1, params({ blur: { kind: "gaussian", size: 51 } }));
  assert.equal(mask[200 * W + 300], 0);
  assert.equal(mask[130 * W + 130], 1);
  // The 60x60 square is rounded off at the corners, so the mask is smaller than it, but not much.
  const a = maskArea(mask);
  assert.ok(a < 3600 && a > 3000, `area ${a}`);
});

test("largestComponent keeps one blob; opening removes specks; closing fills holes", () => {
  const two = { data: rects(0.9, [10, 10, 40, 40], [200, 200, 210, 210]), width: W, height: H };
  assert.equal(maskArea(postprocess(two, 1, DEFAULT_POSTPROCESS)), 900 + 100);
  const one = postprocess(two, 1, params({ largestComponent: true }));
  assert.equal(maskArea(one), 900);
  assert.equal(one[20 * W + 20], 1);

  const speck = { data: rects(0.9, [10, 10, 40, 40], [200, 200, 203, 203]), width: W, height: H };
  assert.equal(maskArea(postprocess(speck, 1, params({ morphology: "open", morphologySize: 5 }))), 900);

  const holed = rects(0.9, [10, 10, 40, 40]);
  holed[25 * W + 25] = 0;
  holed[25 * W + 26] = 0;
  const closed = postprocess(
    { data: holed, width: W, height: H },
    1,
    params({ morphology: "close", morphologySize: 3 }),
  );
  assert.equal(maskArea(closed), 900);
  const filled = postprocess({ data: holed, width: W, height: H }, 1, params({ fillHoles: true }));
  assert.equal(maskArea(filled), 900, "fillHoles fills the hole exactly");
});

test("shape priors run after the largest component: the hull of the kept blob, or its moment ellipse", () => {
  // An L of two bars plus a far speck; the speck goes first, then the L becomes its triangle.
  const l = rects(0.9, [10, 10, 20, 110], [10, 100, 110, 110], [300, 300, 302, 302]);
  const map = { data: l, width: W, height: H };
  const lArea = 10 * 100 + 100 * 10 - 100;
  const hull = postprocess(map, 1, params({ largestComponent: true, shape: "convex-hull" }));
  assert.equal(hull[300 * W + 300], 0, "the speck was dropped before the hull");
  assert.ok(maskArea(hull) > 5000 && maskArea(hull) < 6200, `hull area ${maskArea(hull)}`);
  assert.equal(hull[80 * W + 40], 1, "inside the triangle, outside the L");
  const ell = postprocess(map, 1, params({ largestComponent: true, shape: "ellipse" }));
  assert.ok(Math.abs(maskArea(ell) - lArea) < 0.1 * lArea, `ellipse area ${maskArea(ell)} vs ${lArea}`);
  assert.equal(maskArea(postprocess(map, 0.1, params({ shape: "ellipse" }))), 0, "gates still apply");
});

test("parsePostprocess fills defaults and rejects bad settings with the file named", () => {
  assert.deepEqual(parsePostprocess({}, "m.json"), DEFAULT_POSTPROCESS);
  assert.deepEqual(DEFAULT_POSTPROCESS, {
    pixelThreshold: 0.5,
    presenceThreshold: 0.5,
    minArea: 0,
    blur: { kind: "none", size: 1 },
    morphology: "none",
    morphologySize: 5,
    largestComponent: false,
    fillHoles: false,
    shape: "none",
  });
  assert.equal(parsePostprocess({ blur: { kind: "gaussian", size: 51 } }, "m.json").blur.size, 51);
  const bad: [unknown, RegExp][] = [
    [{ blur: { kind: "box", size: 50 } }, /m\.json: post-processing blur\.size: must be odd/],
    [{ pixelThreshold: 1.5 }, /pixelThreshold/],
    [{ minArea: -1 }, /minArea/],
    [{ minarea: 100 }, /minarea|Unrecognized/i],
    [{ morphology: "erode" }, /morphology/],
    [{ shape: "circle" }, /shape/],
  ];
  for (const [raw, re] of bad) {
    assert.throws(
      () => parsePostprocess(raw, "m.json"),
      (e: unknown) => e instanceof UserError && re.test(e.message),
    );
  }
});

test("one rule at the edges: p = threshold is off, presence = threshold passes, area = minArea passes — in training's score, postprocess and tune alike", async () => {
  const { kaggleImageScore, pixelOn, gatedEmpty } = await import("../../src/postprocess/mask-rule.js");
  const { tunePostprocess } = await import("../../src/postprocess/tune.js");
  assert.equal(pixelOn(0.5, 0.5), false);
  assert.equal(pixelOn(0.5000001, 0.5), true);
  assert.equal(gatedEmpty(0.5, 10, { presenceThreshold: 0.5, minArea: 10 }), false);
  assert.equal(gatedEmpty(0.4999, 10, { presenceThreshold: 0.5, minArea: 10 }), true);
  assert.equal(gatedEmpty(1, 9, { presenceThreshold: 0.5, minArea: 10 }), true);
  assert.equal(gatedEmpty(1, 0, { presenceThreshold: 0, minArea: 0 }), true);
  // A full-resolution map: 100 px at exactly 0.5, 100 px at 0.75; the truth is the 0.75 block.
  const p = new Float32Array(W * H);
  const truth = new Uint8Array(W * H);
  for (let i = 0; i < 100; i++) {
    p[i] = 0.5;
    p[1000 + i] = 0.75;
    truth[1000 + i] = 1;
  }
  const rule = params({ pixelThreshold: 0.5, presenceThreshold: 0.5, minArea: 100 });
  const mask = postprocess({ data: p, width: W, height: H }, 0.5, rule);
  assert.equal(maskArea(mask), 100);
  assert.equal(kaggleImageScore(p, truth, 0.5, rule), 1);
  const tuned = tunePostprocess({ probs: [p], presence: [0.5], truth: [truth], width: W, height: H }, rule, {
    pixelThresholds: [0.5],
    presenceThresholds: [0.5],
    minAreas: [100],
  });
  assert.equal(tuned.before, 1);
  // One pixel fewer than minArea empties the mask everywhere.
  const strict = { ...rule, minArea: 101 };
  assert.equal(maskArea(postprocess({ data: p, width: W, height: H }, 0.5, strict)), 0);
  assert.equal(kaggleImageScore(p, truth, 0.5, strict), 0);
});
