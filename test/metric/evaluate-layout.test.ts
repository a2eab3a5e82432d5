import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { csvLine } from "../../src/io/csv.js";
import { encodeRle } from "../../src/io/rle.js";
import { evaluateLayout, matchPredictions } from "../../src/metric/evaluate-layout.js";
import { SegScoreAccumulator, segPerGroupCsv, segPerImageCsv } from "../../src/metric/segmentation-score.js";
import { encodeDicom, TS } from "../helpers/dicom-writer.js";
import { rejectsNaming } from "../helpers/errors.js";
import { frame, rectMask, writeGrey } from "../helpers/images.js";
import { tempDir } from "../helpers/sample.js";

const W = 24;
const H = 16;
/** The truth: a 10x10 square at (x0, 2); predictions shift it by a few columns. */
const truthMask = (x0: number) => rectMask(W, H, x0, 2, x0 + 10, 12);

/** Writes an image and its side-by-side mask (`<stem>_mask.png`) below `root`. */
async function pair(root: string, rel: string, mask: Uint8Array): Promise<void> {
  await writeGrey(path.join(root, `${rel}.png`), W, H, frame(W, H, rel.length));
  await writeGrey(path.join(root, `${rel}_mask.png`), W, H, mask);
}

/** A predictions.csv as `nerveseg predict` writes it: id,file,width,height,presence,area_px,pixels. */
function predictionsCsv(dir: string, rows: { id: string; file: string; mask: Uint8Array }[]): string {
  fs.mkdirSync(dir, { recursive: true });
  let text = csvLine(["id", "file", "width", "height", "presence", "area_px", "pixels"]);
  for (const r of rows)
    text += csvLine([r.id, r.file, W, H, "0.9", r.mask.filter(Boolean).length, encodeRle(r.mask, W, H)]);
  fs.writeFileSync(path.join(dir, "predictions.csv"), text);
  return dir;
}

/** A nested truth as class folders hold it: benign/images/benign (1).png beside benign (1)_mask.png. */
async function nestedTruth(): Promise<string> {
  const t = tempDir();
  await pair(t, "benign/images/benign (1)", truthMask(2));
  await pair(t, "benign/images/benign (2)", truthMask(4));
  await pair(t, "malignant/images/malignant (1)", new Uint8Array(W * H));
  return t;
}

test("listed-file predictions (ids without folders) meet a nested truth by file, by path and by stem", async () => {
  const t = await nestedTruth();
  const img = (rel: string) => path.join(t, `${rel}.png`);
  const preds = [
    { id: "benign (1)", file: img("benign/images/benign (1)"), mask: truthMask(5) }, // shifted by 3
    { id: "benign (2)", file: img("benign/images/benign (2)"), mask: truthMask(4) }, // exact
    { id: "malignant (1)", file: img("malignant/images/malignant (1)"), mask: truthMask(0) }, // FP
  ];
  const check = async (pred: string) => {
    const s = await evaluateLayout({ truth: t, pred });
    assert.deepEqual(
      s.perImage.map((r) => [r.id, r.group, r.dice, r.hd95, r.assd]),
      [
        ["benign/images/benign (1)", "benign/images", 0.7, 3, 1.5],
        ["benign/images/benign (2)", "benign/images", 1, 0, 0],
        ["malignant/images/malignant (1)", "malignant/images", 0, null, null],
      ],
      pred,
    );
    assert.equal(s.distanceUnit, "px");
    assert.deepEqual(
      [s.boundaryImages, s.oneSideEmpty, s.hd95Mean, s.hd95Median, s.assdMean, s.assdMedian],
      [2, 1, 1.5, 1.5, 0.75, 0.75],
    );
    return s;
  };
  // The file column names the truth's own images.
  await check(predictionsCsv(path.join(tempDir(), "out"), preds));
  // Predicted from a copy of the images elsewhere: the relative path's tail decides.
  const copy = path.join(tempDir(), "copy");
  await check(
    predictionsCsv(
      path.join(tempDir(), "out"),
      preds.map((p) => ({ ...p, file: path.join(copy, path.relative(t, p.file)) })),
    ),
  );
  // A mask folder alone (out/masks/<id>.png): the unique stem decides.
  const out = tempDir();
  for (const p of preds) await writeGrey(path.join(out, "masks", `${p.id}.png`), W, H, p.mask);
  const s = await check(out);
  assert.deepEqual(
    s.perGroup.map((g) => [g.group, g.images, g.boundaryImages, g.oneSideEmpty, g.hd95Mean, g.hd95Median]),
    [
      ["benign/images", 2, 2, 0, 1.5, 1.5],
      ["malignant/images", 1, 0, 1, NaN, NaN],
    ],
  );
  assert.equal(
    segPerImageCsv(s).split("\n")[0],
    "id,group,dice,iou,truth_px,pred_px,intersection_px,hd95_px,assd_px",
  );
  assert.equal(
    segPerImageCsv(s).split("\n")[3],
    "malignant/images/malignant (1),malignant/images,0,0,0,100,0,,",
  );
});

test("a stem two truth images share is an error naming both, unless a path decides", async () => {
  const t = tempDir();
  await pair(t, "a/images/x", truthMask(2));
  await pair(t, "b/images/x", truthMask(4));
  const out = tempDir();
  await writeGrey(path.join(out, "masks", "x.png"), W, H, truthMask(2));
  await rejectsNaming(
    evaluateLayout({ truth: t, pred: out, subset: true }),
    path.join(out, "masks", "x.png"),
    new RegExp(
      `predicted id "x" is ambiguous: truth images ${path.join(t, "a/images/x.png").replace(/[.()]/g, "\\$&")} and ${path.join(t, "b/images/x.png").replace(/[.()]/g, "\\$&")}`,
    ),
  );
  // Predicted by folder (the id keeps it), or from the image itself (the file column): no doubt left.
  const byFolder = tempDir();
  await writeGrey(path.join(byFolder, "masks", "b", "images", "x.png"), W, H, truthMask(4));
  const s = await evaluateLayout({ truth: t, pred: byFolder, subset: true });
  assert.deepEqual(
    s.perImage.map((r) => [r.id, r.dice]),
    [["b/images/x", 1]],
  );
  const csv = predictionsCsv(tempDir(), [
    { id: "x", file: path.join(t, "a/images/x.png"), mask: truthMask(2) },
  ]);
  assert.deepEqual(
    (await evaluateLayout({ truth: t, pred: csv, subset: true })).perImage.map((r) => r.id),
    ["a/images/x"],
  );
});

test("matchPredictions: the file first, then the longest shared path tail, a whole id over a partial one", () => {
  const truth = [
    { id: "x", image: "/t/x.png" },
    { id: "sub/x", image: "/t/sub/x.png" },
    { id: "p/images/y", image: "/t/p/images/y.png" },
    { id: "q/images/y", image: "/t/q/images/y.png" },
    { id: "z", image: "/t/z.png" },
  ];
  const at = (preds: { id: string; file?: string }[]) =>
    Object.fromEntries(
      [
        ...matchPredictions(
          truth,
          preds.map((p, i) => ({ id: p.id, file: p.file ?? null, where: `row ${i}` })),
          "/t",
        ),
      ].map(([id, k]) => [id, k]),
    );
  // "x" is the whole id "x" and only the tail of "sub/x".
  assert.deepEqual(at([{ id: "x" }]), { x: 0 });
  // The file says which: the truth image itself, or a copy whose folders match.
  assert.deepEqual(at([{ id: "x", file: "/t/sub/x.png" }]), { "sub/x": 0 });
  assert.deepEqual(at([{ id: "x", file: "/elsewhere/sub/x.jpg" }]), { "sub/x": 0 });
  assert.deepEqual(at([{ id: "p/images/y" }, { id: "images/y", file: "/c/q/images/y.png" }, { id: "z" }]), {
    "p/images/y": 0,
    "q/images/y": 1,
    z: 2,
  });
  // Frame k of a cine ("y#2") is not its file ("y.dcm"): the file does not speak for it.
  assert.throws(
    () => at([{ id: "y#2", file: "/t/p/images/y.dcm" }]),
    /row 0: predicted id "y#2" is not in the truth \(\/t\)/,
  );
  assert.throws(
    () => at([{ id: "images/y" }]),
    /row 0: predicted id "images\/y" is ambiguous: truth images \/t\/p\/images\/y\.png and \/t\/q\/images\/y\.png/,
  );
  assert.throws(
    () => at([{ id: "z" }, { id: "other/z" }]),
    /row 1: predicted id "other\/z" and "z" \(row 0\) both are of \/t\/z\.png/,
  );
});

test("SegScoreAccumulator: distances per image, per group and in the summary; one unit per score", () => {
  const acc = new SegScoreAccumulator();
  const geometry = { width: W, height: H };
  acc.add("a", "g1", truthMask(2), truthMask(5), geometry);
  acc.add("b", "g1", truthMask(2), truthMask(2), geometry);
  acc.add("c", "g2", truthMask(2), new Uint8Array(W * H), geometry);
  acc.add("d", "g2", new Uint8Array(W * H), new Uint8Array(W * H), geometry);
  acc.add("e", "g2", truthMask(2), truthMask(3), geometry);
  const s = acc.result();
  assert.deepEqual(
    s.perImage.map((r) => [r.id, r.hd95, r.assd]),
    [
      ["a", 3, 1.5],
      ["b", 0, 0],
      ["c", null, null],
      ["d", null, null],
      ["e", 1, s.perImage[4].assd],
    ],
  );
  assert.deepEqual([s.boundaryImages, s.oneSideEmpty, s.hd95Mean, s.hd95Median], [3, 1, 4 / 3, 1]);
  assert.equal(
    segPerGroupCsv(s),
    "group,images,with_target,dice,iou,kaggle,boundary_images,one_side_empty,hd95_mean_px,hd95_median_px,assd_mean_px,assd_median_px\n" +
      `g1,2,2,${(0.7 + 1) / 2},${(7 / 13 + 1) / 2},0.85,2,0,1.5,1.5,0.75,0.75\n` +
      `g2,3,2,0.45,${s.perGroup[1].iou},${(0 + 1 + 0.9) / 3},1,1,1,1,${s.perGroup[1].assdMean},${s.perGroup[1].assdMean}\n`,
  );
  // Millimetres: the same masks at 0.5 mm per pixel, columns named so.
  const mm = new SegScoreAccumulator();
  mm.add("a", "g", truthMask(2), truthMask(5), { ...geometry, spacing: { row: 0.5, col: 0.5 } });
  assert.equal(mm.result().perImage[0].hd95, 1.5);
  assert.match(segPerImageCsv(mm.result()), /,hd95_mm,assd_mm\n/);
  assert.throws(
    () => mm.add("b", "g", truthMask(2), truthMask(5), geometry),
    /b: distances in px among images measured in mm/,
  );
  // Without a geometry (callers that only want overlap) nothing is measured.
  const plain = new SegScoreAccumulator();
  plain.add("a", "g", truthMask(2), truthMask(5));
  assert.deepEqual([plain.result().perImage[0].hd95, plain.result().boundaryImages], [null, 0]);
});

test("pixel spacing: --spacing, a CSV layout's spacing_mm column, DICOM Pixel Spacing; never mixed with pixels", async () => {
  const t = await nestedTruth();
  const img = (rel: string) => path.join(t, `${rel}.png`);
  const pred = predictionsCsv(tempDir(), [
    { id: "benign (1)", file: img("benign/images/benign (1)"), mask: truthMask(5) },
  ]);
  // Shifted 3 columns: 3 x 0.2 mm.
  const given = await evaluateLayout({ truth: t, pred, subset: true, spacing: { row: 0.5, col: 0.2 } });
  assert.equal(given.distanceUnit, "mm");
  assert.ok(Math.abs(given.perImage[0].hd95! - 0.6) < 1e-12);

  // A CSV layout: spacing_mm per row, one value or row,column.
  const list = path.join(t, "list.csv");
  fs.writeFileSync(
    list,
    "image,mask,spacing_mm\n" +
      `benign/images/benign (1).png,benign/images/benign (1)_mask.png,"0.5,0.2"\n` +
      `benign/images/benign (2).png,benign/images/benign (2)_mask.png,0.1\n`,
  );
  const both = predictionsCsv(tempDir(), [
    { id: "benign (1)", file: img("benign/images/benign (1)"), mask: truthMask(5) },
    { id: "benign (2)", file: img("benign/images/benign (2)"), mask: truthMask(6) },
  ]);
  const fromCsv = await evaluateLayout({ truth: list, pred: both });
  assert.equal(fromCsv.distanceUnit, "mm");
  assert.deepEqual(
    fromCsv.perImage.map((r) => Math.round(r.hd95! * 1e9) / 1e9),
    [0.6, 0.2],
  );
  // --spacing overrides the column.
  assert.deepEqual(
    (await evaluateLayout({ truth: list, pred: both, spacing: { row: 1, col: 1 } })).perImage.map(
      (r) => r.hd95,
    ),
    [3, 2],
  );
  fs.writeFileSync(
    list,
    "image,mask,spacing_mm\n" +
      `benign/images/benign (1).png,benign/images/benign (1)_mask.png,0.5\n` +
      `benign/images/benign (2).png,benign/images/benign (2)_mask.png,\n`,
  );
  await rejectsNaming(
    evaluateLayout({ truth: list, pred: both }),
    img("benign/images/benign (2)"),
    /no pixel spacing, while .*benign \(1\)\.png has one .*give --spacing/,
  );
  fs.writeFileSync(
    list,
    "image,mask,spacing_mm\nbenign/images/benign (1).png,benign/images/benign (1)_mask.png,-1\n",
  );
  await rejectsNaming(
    evaluateLayout({ truth: list, pred }),
    list,
    /line 2: spacing_mm "-1" is not a positive number of mm per pixel/,
  );

  // DICOM truth images carry their Pixel Spacing (row\column).
  const d = tempDir();
  const dicom = (rel: string, spacing?: string) => {
    fs.mkdirSync(path.dirname(path.join(d, rel)), { recursive: true });
    fs.writeFileSync(
      path.join(d, `${rel}.dcm`),
      encodeDicom({
        transferSyntax: TS.explicitLE,
        rows: H,
        cols: W,
        pixels: frame(W, H, 1),
        pixelSpacing: spacing,
      }),
    );
  };
  dicom("p1/scan", "0.25\\0.1");
  await writeGrey(path.join(d, "p1/scan_mask.png"), W, H, truthMask(2));
  dicom("p2/scan", "0.25\\0.1");
  await writeGrey(path.join(d, "p2/scan_mask.png"), W, H, truthMask(2));
  const out = tempDir();
  await writeGrey(path.join(out, "masks", "p1", "scan.png"), W, H, truthMask(5)); // 3 columns: 0.3 mm
  await writeGrey(path.join(out, "masks", "p2", "scan.png"), W, H, rectMask(W, H, 2, 4, 12, 14)); // 2 rows: 0.5 mm
  const fromDicom = await evaluateLayout({ truth: d, pred: out });
  assert.equal(fromDicom.distanceUnit, "mm");
  assert.deepEqual(
    fromDicom.perImage.map((r) => Math.round(r.hd95! * 1e9) / 1e9),
    [0.3, 0.5],
  );
  dicom("p2/scan");
  await rejectsNaming(
    evaluateLayout({ truth: d, pred: out }),
    path.join(d, "p2/scan.dcm"),
    /no pixel spacing, while .*p1\/scan\.dcm has one/,
  );
  dicom("p2/scan", "0\\0.1");
  await rejectsNaming(
    evaluateLayout({ truth: d, pred: out }),
    path.join(d, "p2/scan.dcm"),
    /Pixel Spacing \(0028,0030\) is not two positive numbers \(0\\0\.1\); give --spacing/,
  );
  // --spacing settles it.
  assert.equal(
    (await evaluateLayout({ truth: d, pred: out, spacing: { row: 1, col: 1 } })).perImage[1].hd95,
    2,
  );
});
