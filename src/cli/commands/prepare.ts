import type { Command } from "commander";
import { GROUP_BY, LAYOUTS, prepare, type GroupBy, type LayoutKind, type Manifest } from "../../index.js";
import { choiceOption, floatOption, intOption, sizeOption } from "../options.js";
import { addDecodeLimitOptions } from "../limits.js";
import { progressFactory, type Progress } from "../progress.js";

/** How many groups and frames went each way (and per fold), for the user to check the split. */
export function splitSummary(m: Manifest): string[] {
  const val = new Set(m.split.val);
  const side = (inVal: boolean) => {
    const groups = new Set<string>();
    let frames = 0;
    m.train.groups.forEach((g, i) => {
      if (val.has(i) === inVal) {
        groups.add(g);
        frames++;
      }
    });
    return { groups: groups.size, frames };
  };
  const t = side(false);
  const v = side(true);
  const lines = [
    `split ${m.split.kind} (seed ${m.split.seed}): training ${t.frames} frames of ${t.groups} group(s), validation ${v.frames} frames of ${v.groups} group(s)`,
  ];
  if (m.split.folds) {
    const { k, of } = m.split.folds;
    for (let f = 0; f < k; f++) {
      const groups = new Set(m.train.groups.filter((_, i) => of[i] === f));
      lines.push(`fold ${f}: ${of.filter((x) => x === f).length} frames of ${groups.size} group(s)`);
    }
  }
  return lines;
}

/** "benign 437, malignant 210, normal 133": each label and its frames; null when the frames have none. */
export function labelSummary(m: Manifest): string | null {
  const counts = new Map<string, number>();
  for (const l of m.train.labels) if (l !== null) counts.set(l, (counts.get(l) ?? 0) + 1);
  if (counts.size === 0) return null;
  return [...counts]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([l, n]) => `${l} ${n}`)
    .join(", ");
}

export function register(program: Command): void {
  addDecodeLimitOptions(program.command("prepare"))
    .description(
      "read a labelled data set in any layout into uint8 .npy arrays + manifest.json, with a split",
    )
    .option(
      "--input <dir|csv>",
      "data set folder (Kaggle, images/ + masks/, side by side) or a CSV of image,mask[,group]",
      "input",
    )
    .option("--out <dir>", "output folder", "work/prepared")
    .option(
      "--layout <kind>",
      `auto, or one of ${LAYOUTS.join(", ")}`,
      choiceOption("--layout", ["auto", ...LAYOUTS]),
      "auto",
    )
    .option(
      "--images-dir <dir>",
      "folders layout: the image folder; a plain name is matched at any depth (default: images, imgs, ...)",
    )
    .option(
      "--masks-dir <dir>",
      "folders layout: the mask folder beside it; a plain name is matched at any depth (default: masks, mask, labels, gt, ...)",
    )
    .option(
      "--mask-suffix <list>",
      "comma-separated mask name suffixes (default _mask,_seg,_gt,_label,_Annotation)",
    )
    .option(
      "--mask-label <n>",
      "masks are label maps: foreground is this value (or palette index)",
      intOption("--mask-label", 0, 65535),
    )
    .option(
      "--group-by <how>",
      "group (patient) of an image: auto, folder (its subfolder), name (its name's patient part), none (each image alone)",
      choiceOption("--group-by", GROUP_BY),
      "auto",
    )
    .option(
      "--group-pattern <regex>",
      "group (subject/patient) of an image: the first capture of this regex on its id (implies --group-by name)",
    )
    .option(
      "--split <kind>",
      "validation split: stratified (by mask presence) or group (whole subjects/patients; alias: subject)",
      choiceOption("--split", ["stratified", "group", "subject"] as const),
      "stratified",
    )
    .option("--val <fraction>", "validation fraction", floatOption("--val", 0, 0.9), 0.1)
    .option(
      "--folds <k>",
      "also assign whole groups to K folds for cross-validation",
      intOption("--folds", 2, 100),
    )
    .option(
      "--size <WxH>",
      "working size to store frames at (default: 580x420 for Kaggle, else the first image's size)",
      sizeOption("--size"),
    )
    .option("--seed <n>", "split seed", intOption("--seed", 0), 42)
    .option("--workers <n>", "decoding threads (default: all cores)", intOption("--workers", 1, 64))
    .option("--skip-bad", "skip bad or unpaired files and list them, instead of stopping")
    .option("--quiet", "no progress bar")
    .addHelpText(
      "after",
      "\nLabels and groups: subfolders are class labels when there are at most 10 of them, each with at least" +
        "\n20 images, none named with a digit, and the file names do not name one patient per folder" +
        "\n(benign/ malignant/ normal/); labels stratify the split and are not groups. Otherwise subfolders are" +
        "\npatients (groups). Groups (auto): --group-pattern, the Kaggle subject or a CSV group column, a subfolder" +
        "\nthat is not a label, the digits before the first _ of the name, else every image alone (said so)." +
        "\nA test/ or val/ folder of the set is set apart and named, not trained on." +
        "\n\nExamples:\n  nerveseg prepare --input input --out work/prepared --split group --seed 1" +
        "\n  nerveseg prepare --input ../shared/data/nerve-real --out work/nerve --split group --folds 5" +
        "\n  nerveseg prepare --input data --images-dir cropped --masks-dir mask --group-pattern '^(\\d+)_' --split group" +
        "\n  nerveseg prepare --input Dataset_BUSI_with_GT --out work/busi --split group      # classes: labels" +
        "\n  nerveseg prepare --input ../shared/data/usgra-nerve-vessel --out work/nerve1 --mask-label 1",
    )
    .action(async (o) => {
      const start = Date.now();
      let bar: Progress | null = null;
      const m = await prepare({
        input: o.input,
        out: o.out,
        layout: {
          layout: o.layout as LayoutKind | "auto",
          imagesDir: o.imagesDir,
          masksDir: o.masksDir,
          maskSuffixes: o.maskSuffix ? String(o.maskSuffix).split(",") : undefined,
          groupPattern: o.groupPattern,
          groupBy: o.groupBy as GroupBy,
        },
        maskLabel: o.maskLabel,
        split: {
          kind: o.split === "stratified" ? "stratified" : "group",
          seed: o.seed,
          valFraction: o.val,
          folds: o.folds,
        },
        skipBad: Boolean(o.skipBad),
        width: o.size?.width,
        height: o.size?.height,
        workers: o.workers,
        onProgress: (done, total) => {
          bar ??= progressFactory(o.quiet)("prepare", total);
          bar.update(done);
        },
      });
      (bar as Progress | null)?.stop();
      const secs = (Date.now() - start) / 1000;
      const nTrain = m.train.ids.length;
      const nTest = m.test?.ids.length ?? 0;
      const areas = m.train.maskArea.filter((a) => a > 0).sort((a, b) => a - b);
      const sizes = new Set(m.train.sizes.map(([w, h]) => `${w}x${h}`));
      console.log(`prepared ${nTrain} training and ${nTest} test frames (${m.layout} layout) into ${o.out}`);
      console.log(
        `  stored at ${m.width}x${m.height}; own sizes: ${[...sizes].slice(0, 4).join(", ")}${sizes.size > 4 ? ` and ${sizes.size - 4} more` : ""}`,
      );
      console.log(`  ${((nTrain + nTest) / secs).toFixed(1)} images/s over ${secs.toFixed(1)} s`);
      console.log(
        `  with a target: ${m.stats.withMask} (${((100 * m.stats.withMask) / nTrain).toFixed(1)}%), without: ${m.stats.withoutMask}`,
      );
      if (areas.length > 0)
        console.log(
          `  mask area px (at ${m.width}x${m.height}): min ${areas[0]}, median ${areas[areas.length >> 1]}, max ${areas[areas.length - 1]}`,
        );
      console.log(`  pixel mean ${m.stats.trainMean.toFixed(2)}, std ${m.stats.trainStd.toFixed(2)}`);
      const labels = labelSummary(m);
      if (labels) console.log(`  labels (class folders; they stratify the split): ${labels}`);
      console.log(`  groups: ${new Set(m.train.groups).size} by ${m.groupRule}`);
      for (const line of splitSummary(m)) console.log(`  ${line}`);
      for (const s of m.skipped) console.log(`  skipped ${s.file}: ${s.reason}`);
      for (const w of m.warnings ?? []) console.log(`  warning: ${w}`);
    });
}
