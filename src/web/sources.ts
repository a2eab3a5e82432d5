/*
 * The forms the viewer's truth and predictions come in, as items to pair with the images (report/match.ts):
 * mask image files (a folder, or `nerveseg predict`'s masks/), a CSV (Kaggle subject,img,pixels or
 * img,pixels at 580x420; id,width,height,pixels[,presence][,file] at each image's size, as `predict`
 * writes predictions.csv), or a prediction folder's probability maps (predictions.json + probs.npy).
 */
import fs from "node:fs";
import path from "node:path";
import { fileError, UserError } from "../core/errors.js";
import { readCsv } from "../io/csv.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../io/image.js";
import { loadMaskCsv } from "../io/mask-set.js";
import { PREDICTIONS_JSON, readPredictions, type PredictionSet } from "../predict/prediction-store.js";
import { PREDICTIONS_CSV } from "../predict/predict-files.js";
import { maskFolderItems, type Keyed } from "../report/match.js";

/**
 * Where a truth or predicted mask comes from: mask files (read at start-up), a CSV row (parsed when
 * read), a probability map (post-processed at the frame's size), or nothing (an image without a target).
 */
export type MaskSource =
  | { kind: "files"; files: string[]; label?: number }
  | { kind: "rle"; rle: string; width: number; height: number }
  | { kind: "prob"; index: number }
  | { kind: "empty" };

export interface SourceItem {
  source: MaskSource;
  presence: number | null;
}

/** Masks of a CSV: Kaggle (subject,img,pixels or img,pixels; 580x420) or id,width,height,pixels[,presence][,file]. */
function csvItems(file: string): Keyed<SourceItem>[] {
  const table = readCsv(file);
  const header = table.header.map((h) => h.toLowerCase());
  const joined = header.join(",");
  if (joined === "subject,img,pixels" || joined === "img,pixels") {
    const set = loadMaskCsv(file, KAGGLE_WIDTH, KAGGLE_HEIGHT);
    return [...set.masks].map(([id, rle]) => ({
      key: id,
      where: set.where.get(id) ?? file,
      value: { source: { kind: "rle", rle, width: KAGGLE_WIDTH, height: KAGGLE_HEIGHT }, presence: null },
    }));
  }
  const col = (n: string): number => header.indexOf(n);
  const [ci, cw, ch, cp, cpr, cf] = ["id", "width", "height", "pixels", "presence", "file"].map(col);
  if (ci < 0 || cw < 0 || ch < 0 || cp < 0)
    throw fileError(
      file,
      `header is "${table.header.join(",").slice(0, 80)}"; want id,width,height,pixels (as \`nerveseg predict\` writes), subject,img,pixels or img,pixels`,
    );
  const seen = new Map<string, number>();
  return table.rows.map(({ line, fields }) => {
    const where = `${file}: line ${line}`;
    const id = fields[ci];
    const first = seen.get(id);
    if (id === "") throw new UserError(`${where}: empty id`);
    if (first !== undefined) throw new UserError(`${where}: id ${id} again (first on line ${first})`);
    seen.set(id, line);
    const [width, height] = [Number(fields[cw]), Number(fields[ch])];
    if (![width, height].every((v) => Number.isInteger(v) && v > 0 && v <= 65535))
      throw new UserError(`${where}: bad size ${fields[cw]}x${fields[ch]}`);
    let presence: number | null = null;
    if (cpr >= 0 && fields[cpr] !== "") {
      presence = Number(fields[cpr]);
      if (!(presence >= 0 && presence <= 1))
        throw new UserError(`${where}: presence "${fields[cpr]}" is not a probability`);
    }
    const named = cf >= 0 && fields[cf] !== "" ? { file: fields[cf] } : {};
    return {
      key: id,
      where,
      ...named,
      value: { source: { kind: "rle", rle: fields[cp], width, height }, presence },
    };
  });
}

/** Mask image files as items. */
function maskFileItems(dir: string, label?: number, imagesDir?: string): Keyed<SourceItem>[] {
  return maskFolderItems(dir, imagesDir).map((it) => ({
    ...it,
    value: { source: { kind: "files", files: [it.value], label }, presence: null },
  }));
}

/** The predictions of --preds as items, and the probability maps when they are a prediction folder. */
export function predItems(
  preds: string,
  imagesDir?: string,
): { items: Keyed<SourceItem>[]; probs: PredictionSet | null } {
  const stat = fs.statSync(preds, { throwIfNoEntry: false });
  if (!stat) throw fileError(preds, "not found");
  if (stat.isFile()) return { items: csvItems(preds), probs: null };
  if (fs.existsSync(path.join(preds, PREDICTIONS_JSON))) {
    const probs = readPredictions(preds);
    const where = path.join(preds, PREDICTIONS_JSON);
    const items = probs.ids.map((id, i) => ({
      key: id,
      where: `${where}: ${id}`,
      value: { source: { kind: "prob", index: i } as const, presence: probs.presence[i] },
    }));
    return { items, probs };
  }
  const csv = path.join(preds, PREDICTIONS_CSV);
  if (fs.existsSync(csv)) return { items: csvItems(csv), probs: null };
  return { items: maskFileItems(preds, undefined, imagesDir), probs: null };
}

/** The truth of --truth as items: a CSV or a folder of masks. */
export function truthItems(truth: string, label?: number, imagesDir?: string): Keyed<SourceItem>[] {
  const stat = fs.statSync(truth, { throwIfNoEntry: false });
  if (!stat) throw fileError(truth, "no such file or folder");
  return stat.isFile() ? csvItems(truth) : maskFileItems(truth, label, imagesDir);
}
