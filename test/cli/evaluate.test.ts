import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { maskFromDecoded, readImageFile } from "../../src/io/image-read.js";
import { frame, rectMask, writeGrey } from "../helpers/images.js";
import { DDTI_DIR, needsData, PROJECT_ROOT, tempDir } from "../helpers/sample.js";
import { saveTinyModel } from "../helpers/tiny-model.js";

const CLI = path.join(PROJECT_ROOT, "dist", "src", "cli", "main.js");

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: "utf8",
    env: { ...process.env, CI: "1" },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const W = 24;
const H = 16;
/** A 10x10 square at column x0: shifts of it give known distances (3 columns: HD95 3, ASSD 1.5). */
const square = (x0: number) => rectMask(W, H, x0, 2, x0 + 10, 12);

/** Image and side-by-side mask below `root`. */
async function pair(root: string, rel: string, mask: Uint8Array): Promise<void> {
  await writeGrey(path.join(root, `${rel}.png`), W, H, frame(W, H, rel.length));
  await writeGrey(path.join(root, `${rel}_mask.png`), W, H, mask);
}

test("evaluate: predictions of listed files (`predict a/x.png b/y.png`) meet a nested truth", async () => {
  const t = tempDir();
  const rels = ["benign/images/benign (1)", "benign/images/benign (2)", "malignant/images/malignant (1)"];
  for (const rel of rels) await writeGrey(path.join(t, `${rel}.png`), W, H, frame(W, H, rel.length));
  const model = tempDir();
  saveTinyModel(model);
  const out = path.join(tempDir(), "out");
  const p = cli(
    "predict",
    "--model",
    model,
    ...rels.map((r) => path.join(t, `${r}.png`)),
    "--out",
    out,
    "--quiet",
  );
  assert.equal(p.code, 0, p.err);
  assert.ok(fs.existsSync(path.join(out, "masks", "benign (1).png")), "ids lose their folders");
  // The truth's masks are the predictions themselves (written after predicting), so each image scores 1.
  for (const rel of rels) {
    const d = await readImageFile(path.join(out, "masks", `${path.basename(rel)}.png`));
    const m = maskFromDecoded(d, d.frames[0]).map((v) => (v ? 255 : 0));
    await writeGrey(path.join(t, `${rel}_mask.png`), W, H, m);
  }
  const csv = path.join(tempDir(), "per-image.csv");
  const r = cli("evaluate", "--truth", t, "--pred", out, "--json", "--out", csv);
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out);
  assert.equal(s.images, 3);
  const rows = fs.readFileSync(csv, "utf8").trim().split("\n");
  assert.equal(rows[0], "id,group,dice,iou,truth_px,pred_px,intersection_px,hd95_px,assd_px");
  assert.deepEqual(
    rows.slice(1).map((l) => l.split(",").slice(0, 2)),
    rels.map((rel) => [rel, path.dirname(rel)]),
  );
  assert.deepEqual(
    rows.slice(1, 3).map((l) => l.split(",")[2]),
    ["1", "1"],
  );
  // The mask folder alone (no file column) meets them by their unique stems.
  const r2 = cli("evaluate", "--truth", t, "--pred", path.join(out, "masks"), "--json");
  assert.equal(r2.code, 0, r2.err);
  assert.deepEqual(JSON.parse(r2.out).perGroup, s.perGroup);
});

test("evaluate: HD95 and ASSD printed and written with their unit; --spacing gives mm", async () => {
  const t = tempDir();
  await pair(t, "benign/images/benign (1)", square(2));
  await pair(t, "benign/images/benign (2)", square(4));
  await pair(t, "malignant/images/malignant (1)", new Uint8Array(W * H));
  const out = tempDir();
  await writeGrey(path.join(out, "masks", "benign (1).png"), W, H, square(5)); // 3 columns off
  await writeGrey(path.join(out, "masks", "benign (2).png"), W, H, square(4)); // exact
  await writeGrey(path.join(out, "masks", "malignant (1).png"), W, H, square(0)); // one side empty
  const csv = path.join(tempDir(), "per-image.csv");
  const r = cli("evaluate", "--truth", t, "--pred", out, "--out", csv);
  assert.equal(r.code, 0, r.err);
  assert.match(
    r.out,
    /\n {2}HD95 mean 1\.50 px, median 1\.50 px {3}ASSD mean 0\.75 px, median 0\.75 px {3}\(over 2 image\(s\) with both masks non-empty; 1 image\(s\) with one side empty, not measured\)\n/,
  );
  assert.match(r.out, /group +images target +Dice +IoU +Kaggle +HD95 px +ASSD px\n/);
  assert.match(r.out, /benign\/images +2 +2 +0\.8500 +0\.7692 +0\.8500 +1\.50 +0\.75\n/);
  assert.match(r.out, /malignant\/images +1 +0 +- +- +0\.0000 +- +-\n/);
  assert.equal(
    fs.readFileSync(csv, "utf8"),
    "id,group,dice,iou,truth_px,pred_px,intersection_px,hd95_px,assd_px\n" +
      `benign/images/benign (1),benign/images,0.7,${7 / 13},100,100,70,3,1.5\n` +
      "benign/images/benign (2),benign/images,1,1,100,100,100,0,0\n" +
      "malignant/images/malignant (1),malignant/images,0,0,0,100,0,,\n",
  );
  const mm = cli("evaluate", "--truth", t, "--pred", out, "--spacing", "0.5", "--out", csv, "--json");
  assert.equal(mm.code, 0, mm.err);
  const s = JSON.parse(mm.out);
  assert.deepEqual(
    [s.distanceUnit, s.hd95Mean, s.hd95Median, s.assdMean, s.boundaryImages, s.oneSideEmpty],
    ["mm", 0.75, 0.75, 0.375, 2, 1],
  );
  assert.match(
    fs.readFileSync(csv, "utf8"),
    /^id,group,dice,iou,truth_px,pred_px,intersection_px,hd95_mm,assd_mm\n.*,1\.5,0\.75\n/,
  );
  const text = cli("evaluate", "--truth", t, "--pred", out, "--spacing", "0.5,0.2");
  assert.match(text.out, /HD95 mean 0\.30 mm, median 0\.30 mm/);
  // A bad spacing is a usage error; an ambiguous name one line naming both truth files.
  const bad = cli("evaluate", "--truth", t, "--pred", out, "--spacing", "0.1,x");
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--spacing must be mm per pixel \(e\.g\. 0\.1\) or row,column/);
  await pair(t, "other/images/benign (1)", square(2));
  const amb = cli("evaluate", "--truth", t, "--pred", out);
  assert.equal(amb.code, 1);
  assert.equal(amb.out, "");
  assert.equal(
    amb.err,
    `nerveseg: ${path.join(out, "masks", "benign (1).png")}: predicted id "benign (1)" is ambiguous: truth images ` +
      `${path.join(t, "benign/images/benign (1).png")} and ${path.join(t, "other/images/benign (1).png")} share its name and no folder decides (predict them by folder: the ids keep it)\n`,
  );
});

test("evaluate: beyond 30 groups the table shows the 10 worst by Dice; --out-groups and --out .json keep all", async () => {
  const t = tempDir();
  const out = tempDir();
  // Group gNN's prediction is shifted by NN % 7 columns: Dice 1 − shift / 10.
  for (let g = 0; g < 35; g++) {
    const name = `g${String(g).padStart(2, "0")}`;
    await pair(t, `${name}/scan`, square(2));
    await writeGrey(path.join(out, "masks", name, "scan.png"), W, H, square(2 + (g % 7)));
  }
  const groups = path.join(tempDir(), "groups.csv");
  const json = path.join(tempDir(), "all.json");
  const r = cli("evaluate", "--truth", t, "--pred", out, "--out-groups", groups, "--out", json);
  assert.equal(r.code, 0, r.err);
  const shown = [...r.out.matchAll(/^ {2}(g\d\d) /gm)].map((m) => m[1]);
  // Shifts 6 (Dice 0.4): g06, g13, g20, g27, g34; shifts 5: g05, g12, g19, g26, g33.
  assert.deepEqual(shown, ["g06", "g13", "g20", "g27", "g34", "g05", "g12", "g19", "g26", "g33"]);
  assert.match(
    r.out,
    /\n {2}\(the 10 worst of 35 groups by Dice; every group: --out-groups FILE\.csv, or perGroup in --out FILE\.json\)\n$/,
  );
  const lines = fs.readFileSync(groups, "utf8").trim().split("\n");
  assert.equal(lines.length, 36);
  assert.equal(
    lines[0],
    "group,images,with_target,dice,iou,kaggle,boundary_images,one_side_empty,hd95_mean_px,hd95_median_px,assd_mean_px,assd_median_px",
  );
  assert.match(lines[4], /^g03,1,1,0\.7,[\d.]+,0\.7,1,0,3,3,1\.5,1\.5$/);
  assert.equal(JSON.parse(fs.readFileSync(json, "utf8")).perGroup.length, 35);
  // The Kaggle CSV form has no groups to write.
  const kt = path.join(tempDir(), "truth.csv");
  const kp = path.join(tempDir(), "pred.csv");
  fs.writeFileSync(kt, "img,pixels\n1,1 2\n");
  fs.writeFileSync(kp, "img,pixels\n1,1 2\n");
  const k = cli(
    "evaluate",
    "--truth",
    kt,
    "--pred",
    kp,
    "--width",
    "4",
    "--height",
    "3",
    "--out-groups",
    groups,
  );
  assert.equal(k.code, 1);
  assert.match(
    k.err,
    /^nerveseg: --out-groups: .*pred\.csv is scored in the Kaggle CSV form, which has no groups/,
  );
});

test("evaluate: the Kaggle CSV form reports HD95 and ASSD too", () => {
  const dir = tempDir();
  const truth = path.join(dir, "truth.csv");
  const pred = path.join(dir, "pred.csv");
  // 6 wide, 4 high, column-major RLE: truth columns 0-1 (pixels 1-8), prediction columns 1-2 (5-12).
  fs.writeFileSync(truth, "img,pixels\n1,1 8\n2,\n");
  fs.writeFileSync(pred, "img,pixels\n1,5 8\n2,\n");
  const r = cli("evaluate", "--truth", truth, "--pred", pred, "--width", "6", "--height", "4");
  assert.equal(r.code, 0, r.err);
  // Every boundary pixel of a 2-column block is 0 or 1 column from the other's boundary.
  assert.match(
    r.out,
    /^score 0\.75000 \(mean Dice over 2 images\)\npresence.*\nHD95 mean 1\.00 px, median 1\.00 px {3}ASSD mean 0\.50 px/,
  );
  const j = cli(
    "evaluate",
    "--truth",
    truth,
    "--pred",
    pred,
    "--width",
    "6",
    "--height",
    "4",
    "--json",
    "--spacing",
    "0.1",
  );
  assert.equal(j.code, 0, j.err);
  const s = JSON.parse(j.out);
  assert.deepEqual([s.boundary.distanceUnit, s.boundary.hd95Mean, s.boundary.assdMean], ["mm", 0.1, 0.05]);
});

test("evaluate --help documents matching, HD95/ASSD, the empty-mask conventions, units and the group table", () => {
  const r = cli("evaluate", "--help");
  assert.equal(r.code, 0);
  for (const want of [
    /--spacing <mm>/,
    /--out-groups <file>/,
    /HD95 +95th percentile/,
    /ASSD +the mean of the two directed mean distances/,
    /one side empty has none \(counted apart\)/,
    /DICOM Pixel Spacing/,
    /spacing_mm/,
    /hd95_mm or hd95_px/,
    /by relative path .*unique name/s,
    /Beyond 30 groups/,
    /nerveseg predict --model .*\n.*nerveseg evaluate --truth busi --pred out/,
  ])
    assert.match(r.out, want);
});

test(
  "evaluate on the real DDTI set: its truth against itself gives Dice 1 and HD95 0",
  { skip: needsData(DDTI_DIR) },
  () => {
    const r = cli("evaluate", "--truth", DDTI_DIR, "--pred", path.join(DDTI_DIR, "mask"), "--json");
    assert.equal(r.code, 0, r.err);
    const s = JSON.parse(r.out);
    assert.deepEqual(
      [
        s.images,
        s.withTarget,
        s.dice,
        s.kaggle,
        s.boundaryImages,
        s.oneSideEmpty,
        s.hd95Mean,
        s.hd95Median,
        s.assdMean,
      ],
      [655, 648, 1, 1, 648, 0, 0, 0, 0],
    );
    assert.equal(s.distanceUnit, "px");
  },
);
