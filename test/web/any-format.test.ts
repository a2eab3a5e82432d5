// The viewer beyond Kaggle TIFFs: PNG (and DICOM) images of their own sizes, truth from a mask folder or a
// data set in any layout, predictions as `nerveseg predict` writes them for files, as a folder of mask
// images or as a predictions CSV; pairing by relative path, then by unique stem.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { PNG } from "pngjs";
import { encodeRle } from "../../src/io/rle.js";
import { dice } from "../../src/metric/dice.js";
import { DEFAULT_POSTPROCESS, postprocess } from "../../src/postprocess/mask-rule.js";
import { frameProbMap, readPredictions, writePredictions } from "../../src/predict/prediction-store.js";
import { contourBand, PRED_COLOR, TRUTH_COLOR } from "../../src/report/overlay.js";
import { startViewer, type ImageEntry, type RunningViewer } from "../../src/web/server.js";
import { encodeDicom, TS } from "../helpers/dicom-writer.js";
import { rejectsNaming } from "../helpers/errors.js";
import { frame, writeGrey } from "../helpers/images.js";
import { tempDir } from "../helpers/sample.js";

interface Listing {
  total: number;
  hasPreds: boolean;
  hasTruth: boolean;
  hasProbs: boolean;
  meanDice: number | null;
  items: ImageEntry[];
}

/** A filled ellipse of 0/1 at (cx, cy) with radii rx, ry. */
function ellipse(w: number, h: number, cx: number, cy: number, rx: number, ry: number): Uint8Array {
  const m = new Uint8Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) if (((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1) m[y * w + x] = 1;
  return m;
}

const to255 = (m: Uint8Array): Uint8Array => m.map((v) => (v ? 255 : 0));
const area = (m: Uint8Array): number => m.reduce((a, v) => a + (v ? 1 : 0), 0);

function decodePng(buf: Buffer): { width: number; height: number; rgb: Uint8Array } {
  const png = PNG.sync.read(buf);
  const rgb = new Uint8Array(png.width * png.height * 3);
  for (let i = 0; i < png.width * png.height; i++)
    for (let c = 0; c < 3; c++) rgb[i * 3 + c] = png.data[i * 4 + c];
  return { width: png.width, height: png.height, rgb };
}

async function listing(v: RunningViewer, q = "sort=id"): Promise<Listing> {
  const r = await fetch(`${v.url}api/images?limit=100&${q}`);
  assert.equal(r.status, 200, await r.clone().text());
  return (await r.json()) as Listing;
}

async function png(v: RunningViewer, id: string, q: string): Promise<ReturnType<typeof decodePng>> {
  const r = await fetch(`${v.url}img/${encodeURIComponent(id)}.png?${q}`);
  assert.equal(r.status, 200, await r.clone().text());
  assert.equal(r.headers.get("content-type"), "image/png");
  return decodePng(Buffer.from(await r.arrayBuffer()));
}

/** Frames of three sizes: each a texture, its truth an ellipse, its prediction the ellipse moved by `shift`. */
const FRAMES = [
  { id: "a", w: 80, h: 60, truth: [40, 30, 15, 10], pred: [44, 30, 15, 10] },
  { id: "b", w: 64, h: 48, truth: [30, 20, 10, 8], pred: [30, 20, 10, 8] },
  { id: "c", w: 50, h: 40, truth: [0, 0, 0, 0], pred: [25, 20, 6, 6] }, // a false positive
] as const;

function masksOf(f: (typeof FRAMES)[number]): { truth: Uint8Array; pred: Uint8Array } {
  const [tx, ty, trx, try_] = f.truth;
  const [px, py, prx, pry] = f.pred;
  return {
    truth: trx === 0 ? new Uint8Array(f.w * f.h) : ellipse(f.w, f.h, tx, ty, trx, try_),
    pred: ellipse(f.w, f.h, px, py, prx, pry),
  };
}

/** What `nerveseg predict` writes for files: masks/<id>.png and predictions.csv. */
async function writePredictOutput(
  dir: string,
  rows: { id: string; file: string; pred: Uint8Array; w: number; h: number }[],
): Promise<void> {
  let csv = "id,file,width,height,presence,area_px,pixels\n";
  for (const [k, r] of rows.entries()) {
    await writeGrey(path.join(dir, "masks", `${r.id}.png`), r.w, r.h, to255(r.pred));
    const presence = (0.5 + k / 10).toFixed(6);
    csv += `${r.id},${r.file},${r.w},${r.h},${presence},${area(r.pred)},${encodeRle(r.pred, r.w, r.h)}\n`;
  }
  fs.writeFileSync(path.join(dir, "predictions.csv"), csv);
}

test("view on a folder of PNGs: truth from a mask folder, predictions from predict's output; each frame at its own size with its Dice", async () => {
  const root = tempDir("nerveseg-view-png-");
  const images = path.join(root, "scans");
  const masks = path.join(root, "masks");
  const preds = path.join(root, "pred");
  for (const f of FRAMES) {
    const m = masksOf(f);
    await writeGrey(path.join(images, `${f.id}.png`), f.w, f.h, frame(f.w, f.h, f.id.charCodeAt(0)));
    await writeGrey(path.join(masks, `${f.id}.png`), f.w, f.h, to255(m.truth));
  }
  await writePredictOutput(
    preds,
    FRAMES.map((f) => ({
      id: f.id,
      file: path.join(images, `${f.id}.png`),
      pred: masksOf(f).pred,
      w: f.w,
      h: f.h,
    })),
  );
  const v = await startViewer({ images, truth: masks, preds, port: 0 });
  try {
    const data = await listing(v);
    assert.equal(data.total, 3);
    assert.deepEqual([data.hasTruth, data.hasPreds, data.hasProbs], [true, true, false]);
    let sum = 0;
    for (const [k, f] of FRAMES.entries()) {
      const it = data.items[k];
      const m = masksOf(f);
      assert.equal(it.id, f.id);
      assert.equal(it.truthArea, area(m.truth));
      assert.equal(it.predArea, area(m.pred));
      assert.equal(it.presence, 0.5 + k / 10);
      assert.equal(it.dice, dice(m.truth, m.pred), f.id);
      sum += it.dice!;
    }
    assert.ok(data.items[0].dice! > 0.5 && data.items[0].dice! < 1);
    assert.equal(data.items[1].dice, 1);
    assert.equal(data.items[2].dice, 0);
    assert.ok(Math.abs(data.meanDice! - sum / 3) < 1e-12);
    assert.deepEqual(
      (await listing(v, "filter=fp")).items.map((it) => it.id),
      ["c"],
    );

    // The picture of "a": 80x60, the frame itself on the image layer; the overlay draws the truth just
    // outside its mask in blue and the prediction just inside its own in orange.
    const f = FRAMES[0];
    const img = await png(v, "a", "layer=image");
    assert.deepEqual([img.width, img.height], [f.w, f.h]);
    const grey = frame(f.w, f.h, "a".charCodeAt(0));
    for (let i = 0; i < f.w * f.h; i++) assert.equal(img.rgb[i * 3 + 1], grey[i]);
    const over = await png(v, "a", "layer=overlay");
    const { truth, pred } = masksOf(f);
    const predEdge = contourBand(pred, f.w, f.h, 2, "inner");
    const truthEdge = contourBand(truth, f.w, f.h, 2, "outer");
    const is = (p: number, c: readonly number[]) => c.every((v, ch) => over.rgb[p * 3 + ch] === v);
    let blue = 0;
    for (let p = 0; p < f.w * f.h; p++) {
      assert.equal(is(p, PRED_COLOR), predEdge[p] === 1, `orange at ${p}`);
      assert.equal(is(p, TRUTH_COLOR), truthEdge[p] === 1 && predEdge[p] === 0, `blue at ${p}`);
      if (is(p, TRUTH_COLOR)) blue++;
    }
    assert.ok(blue > 20, `blue ${blue}`);
    const half = await png(v, "b", "size=half");
    assert.deepEqual([half.width, half.height], [32, 24]);
    // Without probabilities there is no heat-map: the layer is the frame with its prediction outlined.
    assert.deepEqual([(await png(v, "c", "layer=heat")).width], [50]);
  } finally {
    await v.close();
  }
});

/** images/<patient>/1.png and 2.png with masks/<patient>/<n>_mask.png: two frames share each stem. */
async function nestedSet(): Promise<{
  data: string;
  frames: { id: string; w: number; h: number; truth: Uint8Array }[];
}> {
  const data = tempDir("nerveseg-view-nested-");
  const frames: { id: string; w: number; h: number; truth: Uint8Array }[] = [];
  for (const [p, patient] of ["patient A", "patient B"].entries())
    for (const n of [1, 2]) {
      const w = 40 + 8 * p;
      const h = 30 + 4 * n;
      const truth = ellipse(w, h, 15 + 5 * n, 15, 6 + p, 5);
      await writeGrey(path.join(data, "images", patient, `${n}.png`), w, h, frame(w, h, 10 * p + n));
      await writeGrey(path.join(data, "masks", patient, `${n}_mask.png`), w, h, to255(truth));
      frames.push({ id: `${patient}/${n}`, w, h, truth });
    }
  return { data, frames };
}

test("view --data on a nested layout: ids are paths, predictions by relative path; a stem two images share is an error naming both", async () => {
  const { data, frames } = await nestedSet();
  const preds = path.join(tempDir(), "masks");
  const predOf = (f: (typeof frames)[number], k: number) => ellipse(f.w, f.h, 18 + k, 15, 6, 5);
  for (const [k, f] of frames.entries())
    await writeGrey(path.join(preds, `${f.id}.png`), f.w, f.h, to255(predOf(f, k)));
  const v = await startViewer({ data, preds, port: 0 });
  try {
    const d = await listing(v);
    assert.deepEqual(
      d.items.map((it) => it.id),
      frames.map((f) => f.id),
    );
    for (const [k, f] of frames.entries()) {
      assert.equal(d.items[k].truthArea, area(f.truth));
      assert.equal(d.items[k].dice, dice(f.truth, predOf(f, k)), f.id);
    }
    const pic = await png(v, "patient B/2", "layer=overlay");
    assert.deepEqual([pic.width, pic.height], [48, 38]);
    assert.equal(
      (await fetch(`${v.url}img/${encodeURIComponent("patient B/../patient A/1")}.png`)).status,
      400,
    );
    assert.equal((await fetch(`${v.url}img/${encodeURIComponent("patient C/1")}.png`)).status, 404);
    const at = (await (
      await fetch(`${v.url}api/images?sort=id&limit=1&around=${encodeURIComponent("patient B/1")}`)
    ).json()) as { position: number };
    assert.equal(at.position, 2);
  } finally {
    await v.close();
  }

  // Predictions named by stem alone: "1" is patient A's and patient B's.
  const flat = path.join(tempDir(), "flat");
  await writeGrey(path.join(flat, "1.png"), 40, 34, new Uint8Array(40 * 34));
  await rejectsNaming(
    startViewer({ data, preds: flat, port: 0 }),
    path.join(flat, "1.png"),
    /"1" matches both .*patient A\/1\.png and .*patient B\/1\.png by name/,
  );
});

test("predictions as a predictions.csv file (RLE at each image's size): by path, by file, by unique stem; a size that is not the truth's is named", async () => {
  const { data, frames } = await nestedSet();
  // Ids by stem would be ambiguous here, so the rows carry the paths; one row names a frame by its file.
  const csv = path.join(tempDir(), "predictions.csv");
  const rows = frames.map((f, k) =>
    k === 3
      ? `x,${path.join(data, "images", `${f.id}.png`)},${f.w},${f.h},0.9,${area(f.truth)},${encodeRle(f.truth, f.w, f.h)}`
      : `${f.id},,${f.w},${f.h},0.${k + 1},0,`,
  );
  fs.writeFileSync(csv, `id,file,width,height,presence,area_px,pixels\n${rows.join("\n")}\n`);
  const v = await startViewer({ data, preds: csv, port: 0 });
  try {
    const d = await listing(v);
    assert.deepEqual(
      d.items.map((it) => [it.id, it.presence, it.predArea, it.dice]),
      frames.map((f, k) => [
        f.id,
        k === 3 ? 0.9 : (k + 1) / 10,
        k === 3 ? area(f.truth) : 0,
        k === 3 ? 1 : 0,
      ]),
    );
    assert.equal((await listing(v, "filter=fn")).total, 3);
  } finally {
    await v.close();
  }

  // A PNG below a subfolder, its predictions CSV naming it by stem alone; then a row of another size.
  const images = path.join(tempDir(), "pngs");
  const t = ellipse(30, 20, 15, 10, 5, 4);
  await writeGrey(path.join(images, "site 1", "scan_1.png"), 30, 20, frame(30, 20, 1));
  await writeGrey(path.join(images, "site 1", "scan_1_mask.png"), 30, 20, to255(t));
  const good = path.join(images, "..", "good.csv");
  fs.writeFileSync(good, `id,width,height,pixels\nscan_1,30,20,${encodeRle(t, 30, 20)}\n`);
  const byStem = await startViewer({ images, truth: images, preds: good, port: 0 });
  try {
    const d = await listing(byStem);
    assert.deepEqual(
      d.items.map((it) => [it.id, it.truthArea, it.dice]),
      [["site 1/scan_1", area(t), 1]],
    );
  } finally {
    await byStem.close();
  }
  const bad = path.join(images, "..", "bad.csv");
  fs.writeFileSync(bad, "id,width,height,pixels\nscan_1,20,30,1 5\n");
  await rejectsNaming(
    startViewer({ images, truth: images, preds: bad, port: 0 }),
    `${bad}: line 2`,
    /the prediction is 20x30 but the truth .*scan_1_mask\.png is 30x20/,
  );
});

test("a multi-frame DICOM with a prediction per frame lists each frame (<id>#k) and draws it", async () => {
  const dir = tempDir("nerveseg-view-dicom-");
  const [w, h] = [24, 20];
  const pixels = new Uint8Array(w * h * 2);
  for (let i = 0; i < pixels.length; i++) pixels[i] = i < w * h ? 40 : 200;
  fs.mkdirSync(path.join(dir, "cine"));
  fs.writeFileSync(
    path.join(dir, "cine", "loop.dcm"),
    encodeDicom({ transferSyntax: TS.explicitLE, rows: h, cols: w, frames: 2, pixels }),
  );
  const m = ellipse(w, h, 12, 10, 4, 3);
  const csv = path.join(dir, "predictions.csv");
  fs.writeFileSync(
    csv,
    `id,width,height,pixels\nloop#1,${w},${h},${encodeRle(m, w, h)}\nloop#2,${w},${h},\n`,
  );
  const v = await startViewer({ images: path.join(dir, "cine"), preds: csv, port: 0 });
  try {
    const d = await listing(v);
    assert.deepEqual(
      d.items.map((it) => [it.id, it.predArea]),
      [
        ["loop#1", area(m)],
        ["loop#2", 0],
      ],
    );
    const second = await png(v, "loop#2", "layer=image");
    assert.deepEqual([second.width, second.height], [w, h]);
    const first = await png(v, "loop#1", "layer=image");
    assert.ok(second.rgb[0] > first.rgb[0], "frame 2 is the brighter one");
  } finally {
    await v.close();
  }
});

test("a prediction folder (predictions.json + probs.npy) over PNG, TIFF and GIF frames: post-processed at each image's own size; heat-map at that size", async () => {
  const root = tempDir("nerveseg-view-probs-");
  const images = path.join(root, "imgs");
  // The frame sizes from a PNG's header, a TIFF's directory, a decoded GIF.
  const sizes: [string, number, number][] = [
    ["p1", 96, 64],
    ["p2", 50, 70],
    ["p3", 40, 30],
  ];
  const probs: Uint8Array[] = [];
  for (const [k, [id, w, h]] of sizes.entries()) {
    await writeGrey(path.join(images, `${id}.${["png", "tif", "gif"][k]}`), w, h, frame(w, h, w));
    // A 16x16 map: a bright square in the middle.
    probs.push(
      new Uint8Array(256).map((_, i) =>
        i >> 4 >= 5 && i >> 4 < 11 && (i & 15) >= 4 && (i & 15) < 12 ? 230 : 10,
      ),
    );
  }
  const preds = path.join(root, "preds");
  writePredictions(preds, {
    ids: ["p1", "p2", "p3"],
    presence: [0.9, 0.8, 0.7],
    probs,
    height: 16,
    width: 16,
    model: "m",
    tta: false,
  });
  const v = await startViewer({ images, preds, port: 0 });
  try {
    const d = await listing(v);
    assert.equal(d.hasProbs, true);
    const set = readPredictions(preds);
    for (const [k, [id, w, h]] of sizes.entries()) {
      const own = { width: w, height: h };
      const mask = postprocess(frameProbMap(set, k, own), set.presence[k], DEFAULT_POSTPROCESS, own);
      assert.equal(d.items[k].id, id);
      assert.equal(d.items[k].predArea, area(mask), id);
      assert.ok(area(mask) > 0.1 * w * h, `${id}: ${area(mask)}`);
      assert.deepEqual(
        [(await png(v, id, "layer=heat")).width, (await png(v, id, "layer=heat")).height],
        [w, h],
      );
    }
  } finally {
    await v.close();
  }
});

test("--data as a CSV of image,mask: an image with an empty mask cell has no target, at its own size", async () => {
  const dir = tempDir("nerveseg-view-csv-");
  const t = ellipse(30, 20, 12, 10, 5, 4);
  await writeGrey(path.join(dir, "img", "x.png"), 30, 20, frame(30, 20, 1));
  await writeGrey(path.join(dir, "img", "y.jpg"), 36, 24, frame(36, 24, 2));
  await writeGrey(path.join(dir, "seg", "x.png"), 30, 20, to255(t));
  fs.writeFileSync(path.join(dir, "list.csv"), "image,mask\nimg/x.png,seg/x.png\nimg/y.jpg,\n");
  const v = await startViewer({ data: path.join(dir, "list.csv"), port: 0 });
  try {
    const d = await listing(v);
    assert.deepEqual(
      d.items.map((it) => [it.id, it.truthArea]),
      [
        ["img/x", area(t)],
        ["img/y", 0],
      ],
    );
    assert.deepEqual([(await png(v, "img/y", "layer=overlay")).width], [36]);
  } finally {
    await v.close();
  }
});
