/*
 * The recipe study's table (bench/study.sh): per variant the fold mean ± sd of Dice over held-out frames
 * with a target, the paired difference to the first variant (same folds, so per-fold differences), the
 * number of folds where it is better, the Kaggle score and training minutes per fold. Folds still missing
 * are shown as such. A variant may be a path under the study folder (`../other-study/fast`).
 */
import fs from "node:fs";
import path from "node:path";
import { FoldResultSchema, meanSd, type FoldResult } from "../src/pipeline/cv.js";

const [out, ...variants] = process.argv.slice(2);
if (!out || variants.length === 0) throw new Error("usage: study-table <study folder> <variant> ...");

/** A variant's fold results; `name:tag` reads the folds rescored with `cv --rescore tag`. */
function folds(v: string): FoldResult[] {
  const [name, tag] = v.split(":");
  const file = tag ? `result-${tag}.json` : "result.json";
  const dir = path.join(out, name);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((d) => /^fold-\d+$/.test(d) && fs.existsSync(path.join(dir, d, file)))
    .map((d) => FoldResultSchema.parse(JSON.parse(fs.readFileSync(path.join(dir, d, file), "utf8"))))
    .sort((a, b) => a.fold - b.fold);
}

const f4 = (x: number): string => (Number.isNaN(x) ? "-" : x.toFixed(4));
const base = folds(variants[0]);
console.log(
  `| variant | folds | epochs | Dice (target frames) | Δ Dice vs ${variants[0]} | better folds | Kaggle | min/fold |`,
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const v of variants) {
  const r = folds(v);
  const dice = meanSd(r.map((x) => x.dice));
  const paired = r.flatMap((x) => {
    const b = base.find((y) => y.fold === x.fold);
    return b && x.dice !== null && b.dice !== null ? [x.dice - b.dice] : [];
  });
  const d = meanSd(paired);
  const kaggle = meanSd(r.map((x) => x.kaggle));
  const minutes = meanSd(r.map((x) => x.minutes));
  const epochs = [...new Set(r.map((x) => x.epochs))].join("/");
  const isBase = v === variants[0];
  const delta = isBase ? "–" : `${d.mean >= 0 ? "+" : ""}${f4(d.mean)} ± ${f4(d.sd)}`;
  const better = isBase ? "–" : `${paired.filter((x) => x > 0).length}/${paired.length}`;
  console.log(
    `| ${v} | ${r.length} | ${epochs} | ${f4(dice.mean)} ± ${f4(dice.sd)} | ${delta} | ${better} | ${f4(kaggle.mean)} | ${minutes.mean.toFixed(1)} |`,
  );
}
