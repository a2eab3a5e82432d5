// overlay beyond Kaggle TIFFs (report/overlay-files.ts): a PNG with a PNG mask and prediction, a DICOM with a
// label-map mask, sizes that differ named, and the folder form on JPEGs with masks beside them or in a folder.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { PNG } from "pngjs";
import { encodeGreyPng } from "../../src/io/png.js";
import { overlayFolder, overlayImageFile, overlayImagePng } from "../../src/report/overlay-files.js";
import { contourBand, PRED_COLOR, TRUTH_COLOR, type Rgb } from "../../src/report/overlay.js";
import { encodeDicom, TS } from "../helpers/dicom-writer.js";
import { rejectsNaming } from "../helpers/errors.js";
import { frame, rectMask, writeGrey } from "../helpers/images.js";
import { tempDir } from "../helpers/sample.js";

function readPng(buf: Buffer): { width: number; height: number; rgb: Uint8Array } {
  const png = PNG.sync.read(buf);
  const rgb = new Uint8Array(png.width * png.height * 3);
  for (let i = 0; i < png.width * png.height; i++)
    for (let c = 0; c < 3; c++) rgb[i * 3 + c] = png.data[i * 4 + c];
  return { width: png.width, height: png.height, rgb };
}

/** The pixels of the frame's rows (above any legend) painted `c`, as 0/1. */
function painted(pic: { rgb: Uint8Array }, w: number, h: number, c: Rgb): Uint8Array {
  const out = new Uint8Array(w * h);
  for (let i = 0; i < w * h; i++)
    out[i] = pic.rgb[i * 3] === c[0] && pic.rgb[i * 3 + 1] === c[1] && pic.rgb[i * 3 + 2] === c[2] ? 1 : 0;
  return out;
}

const sum = (m: Uint8Array): number => m.reduce((a, v) => a + v, 0);

test("overlay of a PNG with a PNG mask and prediction: the contours where the masks are, a legend with the Dice", async () => {
  const dir = tempDir();
  const [w, h] = [90, 70];
  // A dark frame: no grey pixel can be mistaken for a contour colour.
  const img = frame(w, h, 3).map((v) => v >> 2);
  const truth = rectMask(w, h, 20, 15, 60, 50);
  const pred = rectMask(w, h, 28, 20, 70, 55);
  await writeGrey(path.join(dir, "scan.png"), w, h, img);
  await writeGrey(path.join(dir, "scan_mask.png"), w, h, truth);
  await writeGrey(path.join(dir, "pred.png"), w, h, pred);
  const out = path.join(dir, "out", "scan.png");
  fs.mkdirSync(path.dirname(out));
  await overlayImageFile(path.join(dir, "scan.png"), out, {
    mask: path.join(dir, "scan_mask.png"),
    pred: path.join(dir, "pred.png"),
  });
  const pic = readPng(fs.readFileSync(out));
  assert.equal(pic.width, w);
  assert.ok(pic.height > h, "a legend strip under the frame");
  const predEdge = contourBand(pred, w, h, 2, "inner");
  const truthEdge = contourBand(truth, w, h, 2, "outer").map((v, i) => (v && !predEdge[i] ? 1 : 0));
  assert.deepEqual(painted(pic, w, h, PRED_COLOR), predEdge);
  assert.deepEqual(painted(pic, w, h, TRUTH_COLOR), truthEdge);
  assert.ok(sum(predEdge) > 100 && sum(truthEdge) > 100);
  // The legend says the Dice: a picture with a perfect prediction differs there only.
  const perfect = readPng(
    await overlayImagePng(path.join(dir, "scan.png"), {
      mask: path.join(dir, "scan_mask.png"),
      pred: path.join(dir, "scan_mask.png"),
    }),
  );
  assert.equal(perfect.height, pic.height);
  assert.notDeepEqual(perfect.rgb.subarray(w * h * 3), pic.rgb.subarray(w * h * 3));
  // Without a mask: the plain overlay at the image's size.
  const plain = readPng(
    await overlayImagePng(path.join(dir, "scan.png"), { pred: path.join(dir, "pred.png") }),
  );
  assert.deepEqual([plain.width, plain.height], [w, h]);
});

test("overlay of a DICOM with a label-map mask (--mask-label) and a mask of another size named with its image", async () => {
  const dir = tempDir();
  const [w, h] = [40, 32];
  fs.writeFileSync(
    path.join(dir, "IM0001.dcm"),
    encodeDicom({ transferSyntax: TS.explicitLE, rows: h, cols: w, pixels: new Uint8Array(w * h).fill(60) }),
  );
  // Labels 1 (left box) and 2 (right box); the structure is label 2.
  const labels = new Uint8Array(w * h);
  for (let y = 8; y < 24; y++)
    for (let x = 0; x < w; x++)
      if (x >= 4 && x < 14) labels[y * w + x] = 1;
      else if (x >= 22 && x < 34) labels[y * w + x] = 2;
  // A true 8-bit grey PNG (sharp would store these small values as colour).
  fs.writeFileSync(path.join(dir, "labels.png"), encodeGreyPng({ width: w, height: h, data: labels }));
  const pic = readPng(
    await overlayImagePng(path.join(dir, "IM0001.dcm"), { mask: path.join(dir, "labels.png"), maskLabel: 2 }),
  );
  const two = labels.map((v) => (v === 2 ? 1 : 0));
  assert.deepEqual(painted(pic, w, h, TRUTH_COLOR), contourBand(two, w, h, 2, "outer"));
  // Without the label every non-zero value is the structure: both boxes are outlined.
  const both = readPng(
    await overlayImagePng(path.join(dir, "IM0001.dcm"), { mask: path.join(dir, "labels.png") }),
  );
  assert.deepEqual(painted(both, w, h, TRUTH_COLOR), contourBand(labels, w, h, 2, "outer"));

  await writeGrey(path.join(dir, "small.png"), 20, 16, rectMask(20, 16, 2, 2, 8, 8));
  await rejectsNaming(
    overlayImagePng(path.join(dir, "IM0001.dcm"), { pred: path.join(dir, "small.png") }),
    path.join(dir, "small.png"),
    /^.*: mask is 20x16 but the image .*IM0001\.dcm is 40x32$/,
  );
});

test("overlay folder form on JPEGs: masks beside them (X_mask.*) or in a folder by stem, predictions by stem; one PNG each", async () => {
  const dir = tempDir();
  const images = path.join(dir, "frames");
  const sizes: Record<string, [number, number]> = { a: [48, 36], b: [40, 40], "sub/c": [32, 24] };
  const truthOf = (id: string) => {
    const [w, h] = sizes[id];
    return rectMask(w, h, 6, 6, w - 10, h - 8);
  };
  for (const [id, [w, h]] of Object.entries(sizes)) {
    await writeGrey(path.join(images, `${id}.jpg`), w, h, new Uint8Array(w * h).fill(40));
    if (id !== "sub/c") await writeGrey(path.join(images, `${id}_mask.png`), w, h, truthOf(id));
  }
  const preds = path.join(dir, "preds");
  await writeGrey(path.join(preds, "c.png"), 32, 24, rectMask(32, 24, 8, 8, 20, 16));

  const out = path.join(dir, "out");
  const r = await overlayFolder({ images, masks: images, preds, out });
  assert.deepEqual(r, { written: 3, withMask: 2 });
  const files = (fs.readdirSync(out, { recursive: true }) as string[]).filter((f) => f.endsWith(".png"));
  assert.deepEqual(files.sort(), ["a.png", "b.png", path.join("sub", "c.png")]);
  const a = readPng(fs.readFileSync(path.join(out, "a.png")));
  assert.equal(a.width, 48);
  assert.ok(a.height > 36, "with a mask: the legend");
  assert.deepEqual(painted(a, 48, 36, TRUTH_COLOR), contourBand(truthOf("a"), 48, 36, 2, "outer"));
  const c = readPng(fs.readFileSync(path.join(out, "sub", "c.png")));
  assert.deepEqual([c.width, c.height], [32, 24], "no mask: the frame's size, its prediction drawn");
  assert.ok(sum(painted(c, 32, 24, PRED_COLOR)) > 20);

  // A mask folder named by stem; a mask of the wrong size stops the run and leaves `out` as it was.
  const masks = path.join(dir, "masks");
  await writeGrey(path.join(masks, "a.png"), 48, 36, truthOf("a"));
  await writeGrey(path.join(masks, "c.gif"), 30, 24, rectMask(30, 24, 2, 2, 9, 9));
  const before = fs.readdirSync(out, { recursive: true });
  await rejectsNaming(
    overlayFolder({ images, masks, out }),
    path.join(masks, "c.gif"),
    /mask is 30x24 but the image .*sub\/c\.jpg is 32x24/,
  );
  assert.deepEqual(fs.readdirSync(out, { recursive: true }), before);
});
