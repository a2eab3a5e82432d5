import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { readManifest } from "../../src/data/manifest.js";
import { needsChromium, openBrowser } from "../helpers/browser.js";
import { CLI } from "../helpers/cli.js";
import { decodePngRgb } from "../helpers/images.js";
import { DDTI_DIR, NERVE_REAL_DIR, USGRA_DIR, needsData, tempDir } from "../helpers/sample.js";
import { PRED_COLOR, TRUTH_COLOR } from "../../src/report/overlay.js";

/*
 * Each shared real set exactly as it lies (no renaming, no conversion), through the CLI a user runs:
 * prepare (group split, 5 folds) → train (a short run of a tiny net) → tune → predict (listed files, a
 * folder and a pattern) → evaluate (with HD95) → overlay → view (in chromium). This checks the plumbing on
 * real files at their own sizes and formats, not the quality (docs/real-data.md and bench/one-fold.sh).
 */
function run(args: string[]): string {
  const quiet = ["evaluate", "overlay"].includes(args[0]) ? [] : ["--quiet"];
  const r = spawnSync(process.execPath, [CLI, ...args, ...quiet], { encoding: "utf8" });
  assert.equal(r.status, 0, `nerveseg ${args.join(" ")}\n${r.stderr}`);
  return r.stdout;
}

function tinyPreset(dir: string, fit: "stretch" | "letterbox"): string {
  const file = path.join(dir, "tiny.json");
  fs.writeFileSync(
    file,
    JSON.stringify({
      model: { inputHeight: 32, inputWidth: 32, filters: [4, 8, 16], fit },
      train: {
        epochs: 1,
        batch: 16,
        augment: { flipX: true, flipY: false, rotate: 0, translate: 0, elastic: null },
      },
    }),
  );
  return file;
}

/** `nerveseg view` in a child process: its URL once it prints it, and a way to stop it. */
async function startView(args: string[]): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [CLI, "view", ...args, "--port", "0", "--quiet"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (d) => {
      out += d;
      const m = /viewer at (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on("exit", (code) => reject(new Error(`view exited ${code}: ${err}`)));
  });
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        child.on("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

const SETS = [
  {
    name: "nerve-real",
    dir: NERVE_REAL_DIR,
    images: 1643,
    groups: "35 by leading digits",
    fit: "stretch" as const,
    files: ["images/3_1.jpg", "images/3_103.jpg"],
    folder: ["images/4_11.jpg", "images/4_115.jpg", "images/4_118.jpg"],
    glob: "images/6_1*.jpg",
    masks: (id: string) => `masks/${id}_mask.jpg`,
    extra: [] as string[],
  },
  {
    name: "ddti-thyroid",
    dir: DDTI_DIR,
    images: 655,
    groups: "380 by leading digits",
    fit: "letterbox" as const,
    files: ["cropped/100_1(1).png", "cropped/101_1(1).png"],
    folder: ["cropped/102_1(1).png", "cropped/103_1(1).png", "cropped/104_1(1).png"],
    glob: "cropped/11*.png",
    masks: (id: string) => `mask/${id}.gif`,
    extra: [],
  },
  {
    name: "usgra-nerve-vessel",
    dir: USGRA_DIR,
    images: 204,
    groups: "204 by none",
    fit: "letterbox" as const,
    files: ["images/0001.png", "images/0100.png"],
    folder: ["images/0002.png", "images/0150.png", "images/0200.png"],
    glob: "images/003*.png",
    masks: (id: string) => `masks/${id}.png`,
    extra: ["--mask-label", "1"],
  },
];

for (const s of SETS)
  test(
    `${s.name} as it lies: prepare → train → tune → predict (files, folder, pattern) → evaluate (HD95) → overlay → view`,
    { skip: needsData(s.dir) },
    async () => {
      const work = tempDir();
      const prepared = path.join(work, "prepared");
      const p = run([
        "prepare",
        "--input",
        s.dir,
        "--out",
        prepared,
        "--split",
        "group",
        "--folds",
        "5",
        "--seed",
        "1",
        ...s.extra,
      ]);
      assert.match(p, new RegExp(`prepared ${s.images} training and 0 test frames`));
      assert.match(p, new RegExp(`groups: ${s.groups}`));
      const m = readManifest(prepared);
      const val = new Set(m.split.val);
      const valGroups = new Set([...val].map((i) => m.train.groups[i]));
      m.train.groups.forEach((g, i) => assert.equal(val.has(i), valGroups.has(g), `group ${g} on one side`));
      assert.equal(new Set(m.split.folds!.of).size, 5);

      const model = path.join(work, "model");
      run([
        "train",
        "--data",
        prepared,
        "--preset",
        tinyPreset(work, s.fit),
        "--out",
        model,
        "--threads",
        "2",
      ]);
      const tuned = run(["tune", "--model", model, "--data", prepared]);
      assert.match(tuned, /tuned on \d+ validation images/);

      // Listed files, a folder (copies of a few frames) and a glob pattern; one prediction folder.
      const folder = path.join(work, "some frames");
      fs.mkdirSync(folder);
      for (const f of s.folder) fs.copyFileSync(path.join(s.dir, f), path.join(folder, path.basename(f)));
      const out = path.join(work, "pred");
      const listed = s.files.map((f) => path.join(s.dir, f));
      const predicted = run([
        "predict",
        "--model",
        model,
        ...listed,
        folder,
        path.join(s.dir, s.glob),
        "--out",
        out,
      ]);
      const n = Number(/predicted (\d+) image/.exec(predicted)![1]);
      assert.ok(n >= s.files.length + s.folder.length + 2, predicted);
      for (const f of [...s.files, ...s.folder]) {
        const id = path.basename(f, path.extname(f));
        const mask = decodePngRgb(fs.readFileSync(path.join(out, "masks", `${id}.png`)));
        const own = m.train.sizes[m.train.ids.findIndex((x) => x === id || x.endsWith(`/${id}`))];
        assert.deepEqual([mask.width, mask.height], own, `${id}: the mask at the image's own size`);
      }

      // Evaluated against the set's own truth (matched by file, path or stem), with boundary distances.
      const e = JSON.parse(
        run(["evaluate", "--truth", s.dir, "--pred", out, "--subset", "--json", ...s.extra]),
      ) as { images: number; dice: number; kaggle: number; hd95Mean: number | null; boundaryImages: number };
      assert.equal(e.images, n);
      for (const v of [e.dice, e.kaggle]) assert.ok(v >= 0 && v <= 1, JSON.stringify(e));
      assert.ok(e.boundaryImages === 0 || (e.hd95Mean !== null && e.hd95Mean >= 0), JSON.stringify(e));
      const text = run(["evaluate", "--truth", s.dir, "--pred", out, "--subset", ...s.extra]);
      assert.match(text, /HD95/);

      // An overlay of one listed frame with its truth and prediction, at its own size.
      const first = s.files[0];
      const id = path.basename(first, path.extname(first));
      const picture = path.join(work, `${id}.png`);
      run([
        "overlay",
        path.join(s.dir, first),
        "--mask",
        path.join(s.dir, s.masks(id)),
        "--pred",
        path.join(out, "masks", `${id}.png`),
        "--out",
        picture,
        ...s.extra,
      ]);
      const rgb = decodePngRgb(fs.readFileSync(picture));
      let truthPixels = 0;
      for (let i = 0; i < rgb.rgb.length; i += 3)
        if (
          rgb.rgb[i] === TRUTH_COLOR[0] &&
          rgb.rgb[i + 1] === TRUTH_COLOR[1] &&
          rgb.rgb[i + 2] === TRUTH_COLOR[2]
        )
          truthPixels++;
      assert.ok(truthPixels > 0, "the truth's contour is drawn");

      // The viewer on the set as it lies with these predictions: in chromium, a frame with truth, prediction
      // and its Dice.
      if (needsChromium) return;
      const view = await startView(["--data", s.dir, "--preds", out, ...s.extra]);
      const browser = await openBrowser();
      try {
        const listing = (await (await fetch(`${view.url}api/images?limit=1000&sort=id`)).json()) as {
          items: { id: string; dice: number | null; truthArea: number | null; predArea: number | null }[];
        };
        const scored = listing.items.filter((it) => it.dice !== null);
        assert.equal(scored.length, n, "every predicted frame is paired with its truth");
        const firstScored = scored[0];
        await browser.page.goto(
          `${view.url}?filter=all&sort=id&order=asc&frame=${encodeURIComponent(firstScored.id)}`,
        );
        await browser.until(
          `document.getElementById("modal").dataset.loaded === ${JSON.stringify(firstScored.id)}`,
        );
        await browser.until(`document.querySelectorAll(".card").length > 0`);
        const colours = await browser.js<{ truth: number; pred: number }>(`(() => {
          const img = document.getElementById("mover");
          const c = document.createElement("canvas");
          c.width = img.naturalWidth; c.height = img.naturalHeight;
          const g = c.getContext("2d"); g.drawImage(img, 0, 0);
          const d = g.getImageData(0, 0, c.width, c.height).data;
          const is = (i, rgb) => d[i] === rgb[0] && d[i + 1] === rgb[1] && d[i + 2] === rgb[2];
          let truth = 0, pred = 0;
          for (let i = 0; i < d.length; i += 4) { if (is(i, ${JSON.stringify(TRUTH_COLOR)})) truth++; if (is(i, ${JSON.stringify(PRED_COLOR)})) pred++; }
          return { truth, pred };
        })()`);
        assert.ok(firstScored.truthArea === 0 || colours.truth > 0, JSON.stringify(colours));
        assert.ok(firstScored.predArea === 0 || colours.pred > 0, JSON.stringify(colours));
        assert.match((await browser.page.textContent("#mtitle")) ?? "", /Dice \d\.\d{4}/);
        assert.deepEqual(browser.problems, []);
      } finally {
        await browser.context.close();
        await view.stop();
      }
    },
  );
