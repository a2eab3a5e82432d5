import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { evaluateLayout } from "../../src/metric/evaluate-layout.js";
import { readCsv } from "../../src/io/csv.js";
import { maskFromDecoded, readImageFile } from "../../src/io/image-read.js";
import { decodeRle } from "../../src/io/rle.js";
import { loadModel } from "../../src/model/model-file.js";
import { postprocess } from "../../src/postprocess/mask-rule.js";
import { predictFiles } from "../../src/predict/predict-files.js";
import { predictFrames } from "../../src/predict/predictor.js";
import { encodeDicom, TS } from "../helpers/dicom-writer.js";
import { frame, writeGrey } from "../helpers/images.js";
import { saveTinyModel } from "../helpers/tiny-model.js";
import { PROJECT_ROOT, tempDir } from "../helpers/sample.js";

const CLI = path.join(PROJECT_ROOT, "dist", "src", "cli", "main.js");

/** Images of several formats and sizes, one of them a 3-frame DICOM cine, names with spaces and accents. */
async function inputs(dir: string): Promise<string[]> {
  await writeGrey(path.join(dir, "scans", "é patient (1).png"), 50, 30, frame(50, 30, 1));
  await writeGrey(path.join(dir, "scans", "deep", "b.jpg"), 33, 41, frame(33, 41, 2));
  const cine = new Uint8Array(3 * 20 * 24);
  for (let k = 0; k < 3; k++) cine.set(frame(24, 20, 10 + k), k * 480);
  fs.writeFileSync(
    path.join(dir, "cine.dcm"),
    encodeDicom({ transferSyntax: TS.explicitLE, rows: 20, cols: 24, frames: 3, pixels: cine }),
  );
  return [path.join(dir, "scans"), path.join(dir, "cine.dcm")];
}

test("predict any files: a mask PNG, an overlay and a CSV row per frame, each at the image's own size", async () => {
  const dir = tempDir();
  const model = tempDir();
  saveTinyModel(model);
  const out = path.join(tempDir(), "out");
  const r = await predictFiles({ model, inputs: await inputs(dir), out, batch: 2 });
  assert.deepEqual(
    r.rows.map((row) => [row.id, row.width, row.height]),
    [
      ["deep/b", 33, 41],
      ["é patient (1)", 50, 30],
      ["cine#1", 24, 20],
      ["cine#2", 24, 20],
      ["cine#3", 24, 20],
    ],
  );
  const table = readCsv(r.csv);
  assert.deepEqual(table.header, ["id", "file", "width", "height", "presence", "area_px", "pixels"]);
  // Each row's RLE decodes to the mask PNG written beside it, and to the mask rule applied to the model's
  // own output (so the files are the prediction, at the right size).
  const { model: net, config } = loadModel(model);
  for (const [k, row] of r.rows.entries()) {
    const png = await readImageFile(path.join(out, "masks", `${row.id}.png`));
    const mask = maskFromDecoded(png, png.frames[0]);
    assert.deepEqual([png.frames[0].image.width, png.frames[0].image.height], [row.width, row.height]);
    assert.deepEqual(
      mask,
      decodeRle(table.rows[k].fields[6], row.width, row.height).map((v) => (v ? 1 : 0)),
    );
    assert.equal(Number(table.rows[k].fields[5]), row.area);
    assert.ok(fs.existsSync(path.join(out, "overlays", `${row.id}.png`)));
    const source = await readImageFile(row.file);
    const f = source.frames[row.id.endsWith("#2") ? 1 : row.id.endsWith("#3") ? 2 : 0];
    const own = predictFrames(net, [{ id: row.id, image: f.image }], false);
    const direct = postprocess(
      { data: own.probs[0], width: 16, height: 16 },
      own.presence[0],
      config.postprocess,
      {
        width: row.width,
        height: row.height,
      },
    );
    assert.deepEqual(mask, direct, row.id);
  }
  net.dispose();
  assert.deepEqual(
    fs.readdirSync(out).filter((f) => f.startsWith(".")),
    [],
    "no staging folder left",
  );

  // The same masks scored against themselves as truth: Dice 1 everywhere.
  const truth = tempDir();
  for (const row of r.rows.filter((x) => !x.id.includes("#"))) {
    const d = await readImageFile(row.file);
    await writeGrey(
      path.join(truth, "images", `${row.id}.png`),
      row.width,
      row.height,
      d.frames[0].image.data,
    );
    fs.mkdirSync(path.dirname(path.join(truth, "masks", `${row.id}.png`)), { recursive: true });
    fs.copyFileSync(path.join(out, "masks", `${row.id}.png`), path.join(truth, "masks", `${row.id}.png`));
  }
  const lines = fs.readFileSync(r.csv, "utf8").split("\n");
  const twoRows = path.join(tempDir(), "two.csv");
  fs.writeFileSync(twoRows, [lines[0], ...lines.filter((l) => /^(deep|é)/.test(l))].join("\n") + "\n");
  const s = await evaluateLayout({ truth, pred: twoRows, layout: { groupPattern: "^(.)" } });
  assert.equal(s.images, 2);
  assert.equal(s.kaggle, 1);
  assert.deepEqual(
    s.perGroup.map((g) => g.group),
    ["d", "é"],
  );
  // Predictions of images the truth does not hold (the cine frames) are an error naming them.
  await assert.rejects(evaluateLayout({ truth, pred: out }), /predicted id "cine#1" is not in the truth/);
});

test("the predict command: one image in, one mask out; a bad file names itself and leaves nothing", async () => {
  const dir = tempDir();
  const model = tempDir();
  saveTinyModel(model);
  const img = path.join(dir, "one scan.png");
  await writeGrey(img, 40, 28, frame(40, 28, 4));
  const out = path.join(dir, "out");
  const ok = spawnSync("node", [CLI, "predict", "--model", model, img, "--out", out, "--quiet"], {
    encoding: "utf8",
  });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /predicted 1 image\(s\)/);
  assert.equal(ok.stderr, "", "--quiet prints no progress");
  assert.ok(fs.existsSync(path.join(out, "masks", "one scan.png")));
  const before = fs.readFileSync(path.join(out, "predictions.csv"), "utf8");

  const bad = path.join(dir, "broken.png");
  fs.writeFileSync(bad, "this is no image");
  const r = spawnSync("node", [CLI, "predict", "--model", model, img, bad, "--out", out, "--quiet"], {
    encoding: "utf8",
  });
  assert.equal(r.status, 1);
  assert.match(r.stderr.trim(), /^nerveseg: .*broken\.png: not a PNG: unknown image format/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  assert.equal(
    fs.readFileSync(path.join(out, "predictions.csv"), "utf8"),
    before,
    "earlier output untouched",
  );
  assert.deepEqual(
    fs.readdirSync(out).filter((f) => f.startsWith(".")),
    [],
  );
});

test("predict with a model that trims bars: the mask lies in the box between the bars, at the image's own size", async () => {
  const model = tempDir();
  saveTinyModel(model);
  // The same tiny model, trained (so to speak) with trim, and a mask rule that keeps every pixel above 0:
  // the mask is then exactly where the map was put back.
  const file = path.join(model, "config.json");
  const config = JSON.parse(fs.readFileSync(file, "utf8")) as {
    model: { trim?: boolean };
    postprocess: { pixelThreshold: number; presenceThreshold: number };
  };
  config.model.trim = true;
  config.postprocess.pixelThreshold = 0;
  config.postprocess.presenceThreshold = 0;
  fs.writeFileSync(file, JSON.stringify(config));
  const dir = tempDir();
  const data = new Uint8Array(24 * 40).fill(128);
  data.set(frame(24, 24, 3), 8 * 24);
  await writeGrey(path.join(dir, "barred.png"), 24, 40, data);
  const out = path.join(tempDir(), "out");
  const r = await predictFiles({ model, inputs: [dir], out, batch: 1 });
  const png = await readImageFile(path.join(out, "masks", "barred.png"));
  const mask = maskFromDecoded(png, png.frames[0]);
  for (let y = 0; y < 40; y++)
    assert.deepEqual(
      [...mask.subarray(y * 24, (y + 1) * 24)],
      new Array<number>(24).fill(y >= 8 && y < 32 ? 1 : 0),
      `row ${y}`,
    );
  assert.equal(r.rows[0].area, 24 * 24);
});

test("predict --skip-bad: unreadable files are listed with their reason and the rest is predicted", async () => {
  const dir = tempDir();
  const model = tempDir();
  saveTinyModel(model);
  await writeGrey(path.join(dir, "in", "good 1.png"), 40, 28, frame(40, 28, 4));
  await writeGrey(path.join(dir, "in", "good 2.jpg"), 30, 20, frame(30, 20, 5));
  fs.writeFileSync(path.join(dir, "in", "broken.png"), "this is no image");
  fs.writeFileSync(
    path.join(dir, "in", "cut.png"),
    fs.readFileSync(path.join(dir, "in", "good 1.png")).subarray(0, 60),
  );
  const out = path.join(dir, "out");
  const run = (...extra: string[]) =>
    spawnSync(
      "node",
      [CLI, "predict", "--model", model, path.join(dir, "in"), "--out", out, "--quiet", ...extra],
      {
        encoding: "utf8",
      },
    );
  const strict = run();
  assert.equal(strict.status, 1, "without --skip-bad the first bad file stops the run");
  assert.ok(!fs.existsSync(path.join(out, "predictions.csv")), "nothing written");
  const r = run("--skip-bad");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /predicted 2 image\(s\)/);
  assert.match(r.stdout, /could not read 2 file\(s\), left out:/);
  assert.match(r.stdout, /broken\.png: not a PNG/);
  assert.match(r.stdout, /cut\.png: /);
  assert.deepEqual(fs.readdirSync(path.join(out, "masks")).sort(), ["good 1.png", "good 2.png"]);
  assert.equal(readCsv(path.join(out, "predictions.csv")).rows.length, 2);
  // Nothing readable at all is an error, not an empty result.
  const none = spawnSync(
    "node",
    [
      CLI,
      "predict",
      "--model",
      model,
      path.join(dir, "in", "broken.png"),
      "--out",
      path.join(dir, "o2"),
      "--skip-bad",
    ],
    { encoding: "utf8" },
  );
  assert.equal(none.status, 1);
  assert.match(none.stderr, /none of the 1 file\(s\) could be read/);
});

test("a file whose name holds a line break is refused up front, named, before any output", async () => {
  const dir = tempDir();
  const model = tempDir();
  saveTinyModel(model);
  await writeGrey(path.join(dir, "in", "ok.png"), 20, 20, frame(20, 20, 1));
  await writeGrey(path.join(dir, "in", "two\nlines.png"), 20, 20, frame(20, 20, 2));
  const out = path.join(dir, "out");
  const r = spawnSync(
    "node",
    [CLI, "predict", "--model", model, path.join(dir, "in"), "--out", out, "--quiet"],
    {
      encoding: "utf8",
    },
  );
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /two\\nlines\.png.*line break/);
  assert.ok(!fs.existsSync(path.join(out, "predictions.csv")));
});
