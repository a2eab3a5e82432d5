import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import type { GreyImage } from "../../io/image.js";
import { encodePng } from "../../io/png.js";
import { overlayRgb } from "../../report/overlay.js";
import { compareIds } from "../../io/ids.js";
import { readTiff } from "../../io/tiff.js";
import { UserError, fileError } from "../../core/errors.js";
import { progressFactory } from "../progress.js";
import { StagedFolder, writeFileAtomic } from "../../io/atomic.js";
import { intOption } from "../options.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../../io/image.js";
import { checkIds, loadPredictionCsv, loadTruth, scoreMasks } from "../../metric/evaluate.js";
import { dice } from "../../metric/dice.js";
import { withCaption, writeWorstOverlays } from "../../report/worst-overlays.js";

/** Reads a mask TIFF of the image's size (nonzero = on). */
function readMask(file: string, img: GreyImage): Uint8Array {
  const m = readTiff(file);
  if (m.width !== img.width || m.height !== img.height) {
    throw fileError(file, `mask is ${m.width}x${m.height} but the image is ${img.width}x${img.height}`);
  }
  return m.data;
}

const area = (m: Uint8Array): number => m.reduce((a, v) => a + (v !== 0 ? 1 : 0), 0);

/**
 * One picture: the image with the mask contour in blue and the prediction contour in orange (overlayRgb).
 * With a true mask it is a picture for review: a legend strip under the frame names the colours, the
 * areas and, with a prediction too, the Dice.
 */
export function overlayFile(image: string, out: string, mask?: string, pred?: string): void {
  writeFileAtomic(out, overlayPng(image, mask, pred));
}

/** The picture overlayFile writes, as PNG bytes. */
export function overlayPng(image: string, mask?: string, pred?: string): Buffer {
  const img = readTiff(image);
  const t = mask ? readMask(mask, img) : null;
  const p = pred ? readMask(pred, img) : null;
  const rgb = overlayRgb(img, t, p);
  if (!t) return encodePng(rgb, img.width, img.height);
  const pic = withCaption(rgb, img.width, img.height, {
    id: path.basename(image).replace(/\.tiff?$/i, ""),
    truth: true,
    pred: p !== null,
    truthArea: area(t),
    predArea: p ? area(p) : null,
    dice: p ? dice(t, p) : null,
  });
  return encodePng(pic.rgb, pic.width, pic.height);
}

export function register(program: Command): void {
  program
    .command("overlay")
    .description(
      "draw mask (blue) and prediction (orange) contours on a grey image, as PNG; with a mask, a legend with the Dice under it",
    )
    .argument("[image]", "the image (.tif)")
    .option("--mask <file>", "true mask (.tif) for a single image")
    .option("--pred <file>", "predicted mask (.tif) for a single image")
    .option("--images <dir>", "folder form: every <id>.tif in this folder")
    .option("--masks <dir>", "folder form: masks matched as <id>_mask.tif (missing ones are skipped)")
    .option("--preds <dir>", "folder form: predictions matched as <id>_mask.tif or <id>.tif")
    .option("--truth <csv|dir>", "CSV form: true masks (train_masks.csv, test_masks.csv or a mask folder)")
    .option("--pred-csv <file>", "CSV form: predicted masks (a submission), scored against --truth")
    .option("--worst <n>", "CSV form: only the n frames with the lowest Dice", intOption("--worst", 1), 20)
    .requiredOption("--out <file|dir>", "output PNG (single image) or folder (folder form)")
    .option("--quiet", "no progress bar")
    .addHelpText(
      "after",
      "\nExamples:\n  nerveseg overlay input/train/1_14.tif --mask input/train/1_14_mask.tif --out work/1_14.png" +
        "\n  nerveseg overlay --images work/synth/train --masks work/synth/train --out work/overlays" +
        "\n  nerveseg overlay --images work/synth/test --truth work/synth/test_masks.csv --pred-csv submission.csv --worst 20 --out work/worst",
    )
    .action((image: string | undefined, o) => {
      if (image && o.images) throw new UserError("overlay: give either an image or --images DIR, not both");
      if (image) {
        if (o.masks || o.preds)
          throw new UserError("overlay: --masks/--preds are for the folder form (--images)");
        overlayFile(image, o.out, o.mask, o.pred);
        console.log(`wrote ${o.out}`);
        return;
      }
      if (!o.images) throw new UserError("overlay: give an image, or --images DIR for a whole folder");
      if (o.truth || o.predCsv) {
        if (!o.truth || !o.predCsv)
          throw new UserError("overlay: the CSV form needs both --truth and --pred-csv");
        const truth = loadTruth(o.truth, KAGGLE_WIDTH, KAGGLE_HEIGHT);
        const pred = loadPredictionCsv(o.predCsv, KAGGLE_WIDTH, KAGGLE_HEIGHT);
        checkIds(truth, pred, { subset: true });
        const score = scoreMasks(truth.masks, pred.masks, KAGGLE_WIDTH, KAGGLE_HEIGHT, { subset: true });
        const worst = writeWorstOverlays(o.images, truth, pred, score, o.worst, o.out);
        for (const w of worst)
          console.log(`${w.id}\tdice ${w.dice.toFixed(4)}\ttruth ${w.truthArea} px\tpred ${w.predArea} px`);
        console.log(
          `wrote the ${worst.length} lowest-Dice frames (of ${score.n}, mean ${score.score.toFixed(4)}) to ${o.out}`,
        );
        return;
      }
      if (o.mask || o.pred)
        throw new UserError("overlay: --mask/--pred are for a single image; use --masks/--preds");
      let names: string[];
      try {
        names = fs.readdirSync(o.images);
      } catch (e) {
        throw fileError(o.images, `cannot read folder (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
      }
      const ids = names
        .filter((f) => f.endsWith(".tif") && !f.endsWith("_mask.tif"))
        .map((f) => f.slice(0, -4))
        .sort(compareIds);
      if (ids.length === 0) throw fileError(o.images, "no .tif images in this folder");
      const find = (dir: string | undefined, candidates: string[]): string | undefined => {
        if (!dir) return undefined;
        for (const c of candidates) {
          const f = path.join(dir, c);
          if (fs.existsSync(f)) return f;
        }
        return undefined;
      };
      // Staged: a bad file or an interruption half-way leaves the output folder as it was.
      const stage = new StagedFolder(o.out);
      const bar = progressFactory(o.quiet)("overlay", ids.length);
      let withMask = 0;
      try {
        ids.forEach((id, k) => {
          const mask = find(o.masks, [`${id}_mask.tif`]);
          const pred = find(o.preds, [`${id}_mask.tif`, `${id}.tif`]);
          if (mask) withMask++;
          stage.write(`${id}.png`, overlayPng(path.join(o.images, `${id}.tif`), mask, pred));
          bar.update(k + 1);
        });
        stage.commit();
      } finally {
        stage.abort();
        bar.stop();
      }
      console.log(`wrote ${ids.length} overlays (${withMask} with a mask file) to ${o.out}`);
    });
}
