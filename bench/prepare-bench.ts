/*
 * `npm run bench:prepare [-- --n 10000]`: prepare's speed and memory on synthetic data sets made here, in
 * the same run:
 *   - kaggle: N frames in the Kaggle layout (580x420 LZW TIFF + mask), the path nerveseg started with;
 *   - mixed:  N frames in the images/ + masks/ layout with mixed sizes (160x120 .. 640x480) and formats
 *             (PNG, JPEG, TIFF deflate, GIF masks), stored at one working size.
 * Each prepare runs in its own process, so its peak RSS is its own; it is run at N/10 and N to show that
 * memory stays flat in N (prepare streams frames to disk).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { writeTiff } from "../src/io/tiff.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const prepareModule = path.join(here, "..", "src", "data", "prepare.js");

function texture(width: number, height: number, seed: number): Uint8Array {
  const d = new Uint8Array(width * height);
  let s = seed * 2654435761;
  for (let i = 0; i < d.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    d[i] = (((i % width) * 3 + ((i / width) | 0) * 2 + (s >>> 24)) >> 1) & 255;
  }
  return d;
}

function disc(width: number, height: number, seed: number): Uint8Array {
  const m = new Uint8Array(width * height);
  const cx = width * (0.3 + (0.4 * ((seed * 37) % 100)) / 100);
  const cy = height * 0.5;
  const r = Math.min(width, height) * 0.15;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) if ((x - cx) ** 2 + (y - cy) ** 2 < r * r) m[y * width + x] = 255;
  return m;
}

async function makeKaggle(dir: string, n: number): Promise<void> {
  fs.mkdirSync(path.join(dir, "train"), { recursive: true });
  for (let i = 0; i < n; i++) {
    const id = `${1 + (i % 40)}_${1 + Math.floor(i / 40)}`;
    writeTiff(path.join(dir, "train", `${id}.tif`), { width: 580, height: 420, data: texture(580, 420, i) });
    writeTiff(path.join(dir, "train", `${id}_mask.tif`), {
      width: 580,
      height: 420,
      data: disc(580, 420, i),
    });
  }
}

const SIZES = [
  [160, 120],
  [256, 256],
  [300, 300],
  [580, 420],
  [640, 480],
];
const FORMATS = ["png", "jpg", "tif"] as const;

async function makeMixed(dir: string, n: number): Promise<void> {
  for (const sub of ["images", "masks"]) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  for (let i = 0; i < n; i++) {
    const [w, h] = SIZES[i % SIZES.length];
    const fmt = FORMATS[i % FORMATS.length];
    const id = `${1 + (i % 40)}_frame ${i}`;
    const img = sharp(Buffer.from(texture(w, h, i)), { raw: { width: w, height: h, channels: 1 } });
    const bytes = await (
      fmt === "png" ? img.png() : fmt === "jpg" ? img.jpeg() : img.tiff({ compression: "deflate" })
    ).toBuffer();
    fs.writeFileSync(path.join(dir, "images", `${id}.${fmt}`), bytes);
    const mask = sharp(Buffer.from(disc(w, h, i)), { raw: { width: w, height: h, channels: 1 } });
    fs.writeFileSync(
      path.join(dir, "masks", `${id}_mask.${i % 2 ? "gif" : "png"}`),
      await (i % 2 ? mask.gif() : mask.png()).toBuffer(),
    );
  }
}

interface Run {
  set: string;
  n: number;
  seconds: number;
  imagesPerSecond: number;
  peakRssMiB: number;
}

/** Runs prepare in a child process; returns its wall time and its own peak RSS. */
function runPrepare(set: string, input: string, n: number, extra: Record<string, unknown>): Run {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "nerveseg-bench-out-"));
  const script = `
    const { prepare } = await import(${JSON.stringify(prepareModule)});
    const t0 = performance.now();
    await prepare({ input: ${JSON.stringify(input)}, out: ${JSON.stringify(path.join(out, "prepared"))}, split: { kind: "group", seed: 1, valFraction: 0.1 }, skipBad: false, ...${JSON.stringify(extra)} });
    console.log(JSON.stringify({ seconds: (performance.now() - t0) / 1000, maxRSS: process.resourceUsage().maxRSS }));`;
  // A script file, not `-e`: worker threads inherit the parent's execArgv, and --input-type breaks them.
  const file = path.join(out, "run.mjs");
  fs.writeFileSync(file, script);
  const r = spawnSync(process.execPath, [file], { encoding: "utf8" });
  fs.rmSync(out, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`prepare ${set} failed: ${r.stderr}`);
  const { seconds, maxRSS } = JSON.parse(r.stdout.trim().split("\n").pop()!) as {
    seconds: number;
    maxRSS: number;
  };
  return { set, n, seconds, imagesPerSecond: n / seconds, peakRssMiB: maxRSS / 1024 };
}

async function main(): Promise<void> {
  const at = process.argv.indexOf("--n");
  const n = at > 0 ? Number(process.argv[at + 1]) : 10_000;
  if (!Number.isInteger(n) || n < 10) throw new Error("--n must be an integer >= 10");
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "nerveseg-bench-data-"));
  try {
    const runs: Run[] = [];
    for (const count of [Math.round(n / 10), n]) {
      const kaggle = path.join(root, `kaggle-${count}`);
      const mixed = path.join(root, `mixed-${count}`);
      console.error(`making ${count} + ${count} frames ...`);
      await makeKaggle(kaggle, count);
      await makeMixed(mixed, count);
      runs.push(runPrepare("kaggle TIFF 580x420", kaggle, count, {}));
      runs.push(runPrepare("mixed sizes/formats", mixed, count, { width: 256, height: 256 }));
      fs.rmSync(kaggle, { recursive: true, force: true });
      fs.rmSync(mixed, { recursive: true, force: true });
    }
    console.log(
      `prepare, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "cpu"}); each run in its own process`,
    );
    console.log("| set | frames | seconds | images/s | peak RSS MiB |");
    console.log("| --- | ---: | ---: | ---: | ---: |");
    for (const r of runs)
      console.log(
        `| ${r.set} | ${r.n} | ${r.seconds.toFixed(1)} | ${r.imagesPerSecond.toFixed(0)} | ${r.peakRssMiB.toFixed(0)} |`,
      );
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

await main();
