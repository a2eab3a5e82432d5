/*
 * Scoring a finished cross-validation again without training (`nerveseg cv --rescore`): other
 * post-processing, flip TTA on or off, or each fold model averaged with the same fold's model of other
 * cross-validations made on the same folds (a fold-by-fold ensemble: every member still never saw the
 * fold's groups). Results go to fold-<k>/result-<tag>.json beside the original result.json.
 */
import fs from "node:fs";
import path from "node:path";
import { fileError, UserError } from "../core/errors.js";
import { readManifest } from "../data/manifest.js";
import { writeFileAtomic } from "../io/atomic.js";
import { readJsonFile } from "../io/json.js";
import type { PostprocessParams } from "../postprocess/mask-rule.js";
import { CV_FILE } from "../model/model-file.js";
import {
  CvFileSchema,
  FoldResultSchema,
  resultFile,
  scoreFold,
  summarize,
  type CvOptions,
  type CvResult,
  type FoldResult,
} from "./cv.js";

export interface RescoreOptions extends Pick<CvOptions, "data" | "out" | "tta" | "progress"> {
  postprocess: PostprocessParams;
  /** Names the results: fold-<k>/result-<tag>.json. */
  tag: string;
  /**
   * Other cross-validation folders made on the same folds: fold k's model is averaged with each one's
   * fold k (the ensemble's minutes are the members' sum).
   */
  with?: readonly string[];
}

const readCv = (dir: string) =>
  readJsonFile(path.join(dir, CV_FILE), CvFileSchema, "not a nerveseg cross-validation file: ");

/** Scores every finished fold again; see the file comment. */
export function rescoreCv(o: RescoreOptions): CvResult {
  if (!/^[\w-]+$/.test(o.tag)) throw new UserError(`--tag must be letters, digits, - or _; got "${o.tag}"`);
  const m = readManifest(o.data);
  const cv = readCv(o.out);
  const others = (o.with ?? []).map((dir) => {
    if (JSON.stringify(readCv(dir).folds) !== JSON.stringify(cv.folds))
      throw fileError(
        path.join(dir, CV_FILE),
        `its folds differ from ${o.out}'s: a fold-by-fold ensemble needs the same folds`,
      );
    return dir;
  });
  const folds: FoldResult[] = [];
  for (let f = 0; f < cv.folds.k; f++) {
    const done = resultFile(o.out, f);
    if (!fs.existsSync(done)) continue;
    const trained = readJsonFile(done, FoldResultSchema, "not a fold result: ");
    let minutes = trained.minutes;
    for (const dir of others) {
      const theirs = resultFile(dir, f);
      if (!fs.existsSync(theirs)) throw fileError(theirs, `fold ${f} is not finished`);
      minutes += readJsonFile(theirs, FoldResultSchema, "not a fold result: ").minutes;
    }
    const rows = cv.folds.of.flatMap((x, i) => (x === f ? [i] : []));
    const r = scoreFold(
      { ...o, preset: cv.preset, dedupe: "off", resume: false, maxMinutes: null },
      m,
      f,
      rows,
      trained.epochs,
      minutes,
      others.map((dir) => path.join(dir, `fold-${f}`)),
    );
    writeFileAtomic(path.join(o.out, `fold-${f}`, `result-${o.tag}.json`), JSON.stringify(r, null, 1) + "\n");
    folds.push(r);
  }
  const complete = folds.length === cv.folds.k;
  return { folds, complete, stopped: "done", summary: complete ? summarize(folds) : null };
}
