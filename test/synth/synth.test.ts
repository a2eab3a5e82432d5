import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { PNG } from "pngjs";
import {
  buildScene,
  planFor,
  renderFrame,
  synthesize,
  type SynthManifest,
  type SynthPlan,
} from "../../src/synth/synth.js";
import type { SynthScene } from "../../src/synth/scene.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../../src/io/image.js";
import { contourBand, contourOf, PRED_COLOR, TRUTH_COLOR } from "../../src/report/overlay.js";
import { decodeRle, encodeRle } from "../../src/io/rle.js";
import { readTiff } from "../../src/io/tiff.js";
import { PROJECT_ROOT, SAMPLE_DIR, needsSample, tempDir } from "../helpers/sample.js";

const W = KAGGLE_WIDTH;
const H = KAGGLE_HEIGHT;
const CLI = path.join(PROJECT_ROOT, "dist", "src", "cli", "main.js");

/** Renders every frame of a plan in memory (scenes built once each). */
function renderAll(
  plan: SynthPlan,
): Array<{ name: string; kind: string; image: Uint8Array; mask: Uint8Array }> {
  const scenes = new Map<number, SynthScene>();
  return plan.frames.map((f) => {
    let s = scenes.get(f.scene);
    if (!s) scenes.set(f.scene, (s = buildScene(plan.scenes[f.scene])));
    const r = renderFrame(s, f.params);
    return { name: f.name, kind: f.kind, image: r.image.data, mask: r.mask };
  });
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

const area = (m: Uint8Array): number => m.reduce((n, v) => n + (v ? 1 : 0), 0);

/**
 * Labels each pixel by its 4-connected distance to the mask edge: k ≥ 1 inside (1 = edge, 100 deeper than 10),
 * -k outside (down to -14), 0 farther out.
 */
function bandsOf(mask: Uint8Array): Int16Array {
  const d = Int16Array.from(mask, (v) => (v ? 100 : 0)); // 100: deeper inside than the bands counted
  let front = Uint8Array.from(mask, (v) => (v ? 1 : 0));
  for (let k = 1; k <= 10; k++) {
    const edge = contourOf(front, W, H);
    const next = new Uint8Array(W * H);
    for (let i = 0; i < d.length; i++) {
      if (edge[i]) d[i] = k;
      else if (front[i]) next[i] = 1;
    }
    front = next;
  }
  let outer = Uint8Array.from(mask, (v) => (v ? 1 : 0));
  for (let k = 1; k <= 14; k++) {
    const next = Uint8Array.from(outer);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = y * W + x;
        if (outer[i]) continue;
        if (
          (x > 0 && outer[i - 1]) ||
          (x < W - 1 && outer[i + 1]) ||
          (y > 0 && outer[i - W]) ||
          (y < H - 1 && outer[i + W])
        ) {
          next[i] = 1;
          d[i] = -k;
        }
      }
    }
    outer = next;
  }
  return d;
}

function bandMean(img: Uint8Array, bands: Int16Array, lo: number, hi: number): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < img.length; i++) {
    if (bands[i] >= lo && bands[i] <= hi) {
      s += img[i];
      n++;
    }
  }
  return s / n;
}

const meanAbsDiff = (a: Uint8Array, b: Uint8Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
};

// One 60-frame set shared by the statistics tests (4 subjects x 15 frames), rendered in memory.
const statsOpts = { out: "-", subjects: 4, frames: 15, test: 0, seed: 11, noiseFraction: 0 };
let statsCache: ReturnType<typeof renderAll> | null = null;
const statsSet = (): ReturnType<typeof renderAll> => (statsCache ??= renderAll(planFor(statsOpts)));

test("renderFrame: the same plan gives identical bytes, another seed different ones", () => {
  const a = renderAll(planFor({ out: "-", subjects: 1, frames: 2, test: 0, seed: 5 }));
  const b = renderAll(planFor({ out: "-", subjects: 1, frames: 2, test: 0, seed: 5 }));
  const c = renderAll(planFor({ out: "-", subjects: 1, frames: 2, test: 0, seed: 6 }));
  for (let k = 0; k < 2; k++) {
    assert.equal(a[k].image.length, W * H);
    assert.deepEqual(a[k].image, b[k].image);
    assert.deepEqual(a[k].mask, b[k].mask);
    assert.ok(meanAbsDiff(a[k].image, c[k].image) > 10, "a different seed gives a different scene");
  }
  assert.ok(meanAbsDiff(a[0].image, a[1].image) > 0, "two frames of one subject differ");
});

test("mask statistics follow the real data (presence, area, centre)", () => {
  const set = statsSet();
  assert.equal(set.length, 60);
  const labelled = set.filter((f) => area(f.mask) > 0);
  const share = labelled.length / set.length;
  assert.ok(share >= 0.25 && share <= 0.6, `share of frames with a nerve ${share} (real: 0.41)`);
  let sr = 0;
  let sc = 0;
  for (const f of labelled) {
    const a = area(f.mask);
    assert.ok(a >= 2700 && a <= 17400, `${f.name}: mask area ${a} outside the real 2,684..17,439`);
    for (const v of f.mask) assert.ok(v === 0 || v === 255);
    let r = 0;
    let c = 0;
    for (let i = 0; i < f.mask.length; i++) {
      if (f.mask[i]) {
        r += Math.floor(i / W);
        c += i % W;
      }
    }
    r /= a;
    c /= a;
    assert.ok(
      Math.abs(r - 145) < 90 && Math.abs(c - 334) < 90,
      `${f.name}: centre (${r}, ${c}) far from (145, 334)`,
    );
    sr += r;
    sc += c;
  }
  const mr = sr / labelled.length;
  const mc = sc / labelled.length;
  assert.ok(
    Math.abs(mr - 145) < 35 && Math.abs(mc - 334) < 35,
    `mean centre (${mr}, ${mc}) vs real (145, 334)`,
  );
});

test("every nerve is drawn where its mask is: a bright rim, low contrast inside", () => {
  for (const f of statsSet()) {
    if (area(f.mask) === 0) continue;
    const bands = bandsOf(f.mask);
    const rim = bandMean(f.image, bands, 1, 4);
    const inner = bandMean(f.image, bands, 8, 10);
    const outside = bandMean(f.image, bands, -14, -5);
    assert.ok(
      rim > outside + 12,
      `${f.name}: rim ${rim.toFixed(1)} not brighter than around it ${outside.toFixed(1)}`,
    );
    assert.ok(
      rim > inner + 12,
      `${f.name}: rim ${rim.toFixed(1)} not brighter than inside ${inner.toFixed(1)}`,
    );
    // low contrast, as in the real images: the inside is not simply a bright or dark blob
    assert.ok(Math.abs(inner - outside) < 0.35 * outside, `${f.name}: inside ${inner} vs outside ${outside}`);
  }
});

test("a frame without a nerve draws none: it differs from the nerve frame only where the mask is", () => {
  const plan = planFor({ out: "-", subjects: 1, frames: 1, test: 0, seed: 21 });
  const scene = buildScene(plan.scenes[0]);
  const p = plan.frames[0].params;
  const withNerve = renderFrame(scene, { ...p, nerve: true, label: true });
  const without = renderFrame(scene, { ...p, nerve: false, label: false });
  assert.ok(area(withNerve.mask) > 2700);
  assert.equal(area(without.mask), 0);
  const bands = bandsOf(withNerve.mask);
  let changedFar = 0;
  let changedIn = 0;
  for (let i = 0; i < W * H; i++) {
    const d = withNerve.image.data[i] !== without.image.data[i];
    if (d && (bands[i] === 0 || bands[i] < -2)) changedFar++;
    if (d && bands[i] > 0) changedIn++;
  }
  assert.equal(changedFar, 0, "pixels more than 2 px outside the mask are identical");
  assert.ok(changedIn > 0.8 * area(withNerve.mask), "the nerve changes most pixels inside its mask");
});

test("synthesize: same seed gives byte-identical files with or without workers; another seed differs", async () => {
  const root = tempDir();
  try {
    const base = { subjects: 2, frames: 5, test: 3, seed: 4, noiseFraction: 0.1 };
    const s1 = await synthesize({ ...base, out: path.join(root, "a"), workers: 0 });
    await synthesize({ ...base, out: path.join(root, "b"), workers: 2 });
    await synthesize({ ...base, out: path.join(root, "c"), seed: 5, workers: 0 });
    assert.equal(s1.train, 10);
    assert.equal(s1.test, 3);
    const files = listFiles(path.join(root, "a"));
    const want = ["synth.json", "test_masks.csv", "test/1.tif", "test/2.tif", "test/3.tif"];
    for (let s = 1; s <= 2; s++)
      for (let n = 1; n <= 5; n++) want.push(`train/${s}_${n}.tif`, `train/${s}_${n}_mask.tif`);
    assert.deepEqual(files, want.sort());
    assert.deepEqual(listFiles(path.join(root, "b")), files);
    for (const f of files) {
      assert.ok(fs.readFileSync(path.join(root, "a", f)).equals(fs.readFileSync(path.join(root, "b", f))), f);
    }
    let differ = 0;
    for (const f of files.filter((f) => f.endsWith(".tif") && !f.endsWith("_mask.tif"))) {
      if (!fs.readFileSync(path.join(root, "a", f)).equals(fs.readFileSync(path.join(root, "c", f))))
        differ++;
    }
    assert.equal(differ, 13, "every image changes with the seed");
    const img = readTiff(path.join(root, "a", "train", "1_1.tif"));
    assert.equal(img.width, W);
    assert.equal(img.height, H);
    // LZW as the competition files (compression tag 259 = 5)
    const raw = fs.readFileSync(path.join(root, "a", "train", "1_1.tif"));
    assert.ok(raw.length < W * H, "compressed");
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test("synthesize: a rerun into an earlier output leaves no stale files; a foreign folder is refused", async () => {
  const root = tempDir();
  try {
    const out = path.join(root, "s");
    await synthesize({ out, subjects: 2, frames: 2, test: 2, seed: 1 });
    assert.equal(listFiles(out).length, 8 + 2 + 2);
    await synthesize({ out, subjects: 1, frames: 2, test: 1, seed: 1 });
    assert.deepEqual(listFiles(out), [
      "synth.json",
      "test/1.tif",
      "test_masks.csv",
      "train/1_1.tif",
      "train/1_1_mask.tif",
      "train/1_2.tif",
      "train/1_2_mask.tif",
    ]);
    const foreign = path.join(root, "f");
    fs.mkdirSync(foreign);
    fs.writeFileSync(path.join(foreign, "notes.txt"), "mine");
    await assert.rejects(
      synthesize({ out: foreign, subjects: 1, frames: 1, test: 0 }),
      /not empty and holds no synth\.json/,
    );
    assert.deepEqual(fs.readdirSync(foreign), ["notes.txt"]);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test("contradicting pairs in synth.json are near-identical images with different labels", async () => {
  const root = tempDir();
  try {
    const out = path.join(root, "s");
    await synthesize({ out, subjects: 3, frames: 10, test: 0, seed: 8, noiseFraction: 0.1, workers: 0 });
    const m = JSON.parse(fs.readFileSync(path.join(out, "synth.json"), "utf8")) as SynthManifest;
    assert.equal(m.seed, 8);
    assert.equal(m.options.noiseFraction, 0.1);
    assert.equal(m.contradicting.length, 3, "round(0.1 x 30)");
    const load = (name: string): { img: Uint8Array; mask: Uint8Array } => ({
      img: readTiff(path.join(out, "train", `${name}.tif`)).data,
      mask: readTiff(path.join(out, "train", `${name}_mask.tif`)).data,
    });
    for (const { image, duplicateOf } of m.contradicting) {
      assert.equal(image.split("_")[0], duplicateOf.split("_")[0], "same subject");
      const dup = load(image);
      const src = load(duplicateOf);
      assert.equal(area(dup.mask), 0, `${image}: the duplicate's mask is empty`);
      assert.ok(area(src.mask) > 2700, `${duplicateOf}: the original has a nerve`);
      const near = meanAbsDiff(dup.img, src.img);
      // another frame of the same subject, for scale
      const other = load(`${image.split("_")[0]}_${image.split("_")[1] === "1" ? 2 : 1}`);
      const far = meanAbsDiff(other.img, src.img);
      assert.ok(near < 6, `${image} vs ${duplicateOf}: mean |diff| ${near.toFixed(2)}`);
      assert.ok(
        near < far / 2,
        `${image} vs ${duplicateOf}: ${near.toFixed(2)}, vs another frame ${far.toFixed(2)}`,
      );
      // the nerve is visible in the duplicate: inside the original's mask the two images agree
      const bands = bandsOf(src.mask);
      assert.ok(Math.abs(bandMean(dup.img, bands, 1, 4) - bandMean(src.img, bands, 1, 4)) < 6);
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test("test_masks.csv round-trips with the masks of the test images", async () => {
  const root = tempDir();
  try {
    const opts = { out: path.join(root, "s"), subjects: 0, frames: 4, test: 6, seed: 3, workers: 0 };
    await synthesize(opts);
    const lines = fs.readFileSync(path.join(opts.out, "test_masks.csv"), "utf8").trimEnd().split("\n");
    assert.equal(lines[0], "img,pixels");
    assert.deepEqual(
      lines.slice(1).map((l) => l.split(",")[0]),
      ["1", "2", "3", "4", "5", "6"],
    );
    const rendered = renderAll(planFor(opts));
    let withNerve = 0;
    for (const r of rendered) {
      assert.equal(r.kind, "test");
      const row = lines.find((l) => l.split(",")[0] === r.name)!;
      const rle = row.split(",")[1];
      assert.equal(rle, encodeRle(r.mask, W, H));
      assert.deepEqual(decodeRle(rle, W, H), r.mask);
      assert.deepEqual(readTiff(path.join(opts.out, "test", `${r.name}.tif`)).data, r.image);
      if (rle !== "") withNerve++;
    }
    assert.ok(withNerve > 0 && withNerve < 6, "some test frames with a nerve, some without");
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test("--shapes: nerve outlines come from the real masks", { skip: needsSample }, () => {
  const csv = path.join(SAMPLE_DIR, "train_masks.csv");
  const plan = planFor({ out: "-", subjects: 2, frames: 2, test: 0, seed: 2, shapes: csv });
  const rendered = renderAll(plan);
  for (const f of plan.frames) {
    const spec = plan.scenes[f.scene];
    assert.ok(spec.shapeRle, "a real outline was picked");
    const real = area(decodeRle(spec.shapeRle!, W, H));
    const r = rendered.find((x) => x.name === f.name)!;
    if (!f.params.label) continue;
    const a = area(r.mask);
    assert.ok(Math.abs(a - real) < 0.06 * real, `${f.name}: area ${a} vs the real outline's ${real}`);
  }
});

test("nerveseg synth and overlay run end to end", { timeout: 120_000 }, () => {
  const root = tempDir();
  try {
    const out = path.join(root, "synth");
    const log = execFileSync(
      process.execPath,
      [
        CLI,
        "synth",
        "--out",
        out,
        "--subjects",
        "2",
        "--frames",
        "5",
        "--test",
        "3",
        "--seed",
        "9",
        "--quiet",
      ],
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
    assert.match(log, /wrote 10 training frames \(\d+ with a nerve\) and 3 test frames/);
    assert.match(log, /images\/s/);
    assert.equal(fs.readdirSync(path.join(out, "train")).length, 20);
    assert.equal(fs.readdirSync(path.join(out, "test")).length, 3);
    const m = JSON.parse(fs.readFileSync(path.join(out, "synth.json"), "utf8")) as SynthManifest;
    assert.equal(m.train, 10);
    assert.equal(m.options.subjects, 2);

    const ov = path.join(root, "ov");
    execFileSync(
      process.execPath,
      [
        CLI,
        "overlay",
        "--images",
        path.join(out, "train"),
        "--masks",
        path.join(out, "train"),
        "--out",
        ov,
        "--quiet",
      ],
      {
        stdio: "pipe",
      },
    );
    const pngs = fs.readdirSync(ov).sort();
    assert.equal(pngs.length, 10);
    // a labelled frame's overlay has exactly its mask's 2-px outer contour in blue
    const name = m.trainWithNerve > 0 ? firstLabelled(out) : "1_1";
    const mask = readTiff(path.join(out, "train", `${name}_mask.tif`)).data;
    const png = PNG.sync.read(fs.readFileSync(path.join(ov, `${name}.png`)));
    const edge = contourOf(mask, W, H);
    const band = contourBand(mask, W, H, 2, "outer");
    const img = readTiff(path.join(out, "train", `${name}.tif`)).data;
    for (let i = 0; i < W * H; i++) {
      const px = [png.data[4 * i], png.data[4 * i + 1], png.data[4 * i + 2]];
      assert.deepEqual(px, band[i] ? [...TRUTH_COLOR] : [img[i], img[i], img[i]]);
    }

    // single-image form with a prediction: orange contour inside it
    const single = path.join(root, "one.png");
    execFileSync(
      process.execPath,
      [
        CLI,
        "overlay",
        path.join(out, "train", `${name}.tif`),
        "--pred",
        path.join(out, "train", `${name}_mask.tif`),
        "--out",
        single,
      ],
      { stdio: "pipe" },
    );
    const p1 = PNG.sync.read(fs.readFileSync(single));
    const firstEdge = edge.indexOf(1);
    if (firstEdge >= 0)
      assert.deepEqual(
        [p1.data[4 * firstEdge], p1.data[4 * firstEdge + 1], p1.data[4 * firstEdge + 2]],
        [...PRED_COLOR],
      );

    // a bad input is one line naming the file, exit 1
    const bad = path.join(root, "bad.csv");
    fs.writeFileSync(bad, "hello\n");
    const r = spawnSync(process.execPath, [CLI, "synth", "--out", path.join(root, "x"), "--shapes", bad], {
      encoding: "utf8",
    });
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim().split("\n").length, 1);
    assert.match(r.stderr, /bad\.csv: not a Kaggle mask CSV/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

function firstLabelled(out: string): string {
  for (let s = 1; s <= 2; s++) {
    for (let n = 1; n <= 5; n++) {
      const m = readTiff(path.join(out, "train", `${s}_${n}_mask.tif`)).data;
      if (area(m) > 0) return `${s}_${n}`;
    }
  }
  throw new Error("no labelled frame");
}
