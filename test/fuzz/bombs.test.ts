/**
 * The hostile files of issue 26, each generated small, read in a child process (time and peak memory measured
 * apart from the test runner) and through the CLI. Before the decode budgets each of these ran for minutes or
 * took gigabytes (see bombs.ts); every test here failed then.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import sharp from "sharp";
import { encodeDicom, TS } from "../helpers/dicom-writer.js";
import { PROJECT_ROOT, tempDir } from "../helpers/sample.js";
import { saveTinyModel } from "../helpers/tiny-model.js";
import {
  deflatedDicom,
  dicomBomb,
  gifCanvasBomb,
  gifManyFramesBomb,
  jpegBomb,
  lyingJpeg,
  manyPageTiff,
  tiffPagesBomb,
} from "./bombs.js";
import { readInChild, type OneResult } from "./run.js";

const CLI = path.join(PROJECT_ROOT, "dist", "src", "cli", "main.js");
const dir = tempDir("nerveseg-bombs-");
// The cines below are tens of megabytes: nothing is kept.
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A refusal fast and small: `file` named first, one line, the flag that raises the limit named. */
async function refused(
  file: string,
  pattern: RegExp,
  opts: Parameters<typeof readInChild>[1] = {},
  bounds = { ms: 3_000, rssMiB: 200 },
): Promise<OneResult> {
  const r = await readInChild(file, opts);
  assert.equal(r.outcome, "refused", JSON.stringify(r));
  const one = r as OneResult;
  assert.ok(one.message.startsWith(`${file}: `) && !one.message.includes("\n"), one.message);
  assert.match(one.message, pattern);
  assert.ok(one.ms < bounds.ms, `${one.ms.toFixed(0)} ms: ${one.message}`);
  assert.ok(one.maxRssMiB < bounds.rssMiB, `peak RSS ${one.maxRssMiB} MiB: ${one.message}`);
  return one;
}

function put(name: string, bytes: Uint8Array): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}

test("a 1.5 MB deflated DICOM whose stream inflates to 1.5 GB after its 64x48 image decodes without inflating the rest (was 85 s at 4.6 GB)", async () => {
  const file = put("trailer.dcm", deflatedDicom(64, 48, 2, 1500 * 2 ** 20));
  assert.ok(fs.statSync(file).size < 2e6);
  const r = await readInChild(file);
  assert.equal(r.outcome, "decoded", JSON.stringify(r));
  assert.ok(r.ms < 3_000 && (r as OneResult).maxRssMiB < 200, JSON.stringify(r));
});

test("a deflated DICOM declaring 10000x10000x4 is refused from its first inflated megabyte, by each limit in turn", async () => {
  const file = put("deflated.dcm", dicomBomb().bytes);
  await refused(
    file,
    /10000x10000 = 100,000,000 pixels\): over the limit of 25,000,000 pixels per frame \(raise it with --max-pixels\)$/,
  );
  await refused(
    file,
    /400,000,000 pixels in all: over the limit of 250,000,000 pixels per file \(raise it with --max-total-pixels\)$/,
    {
      limits: { maxPixels: 1e8 },
    },
  );
});

test("a 185-byte GIF of 11 frames on a 5000x5000 canvas is refused before compositing (was 12 s, 890 MB)", async () => {
  const file = put("canvas.gif", gifCanvasBomb().bytes);
  await refused(
    file,
    /275,000,000 pixels in all: over the limit of 250,000,000 pixels per file \(raise it with --max-total-pixels\)$/,
  );
  await refused(
    file,
    /promises 275,000,000 bytes of samples from 185 bytes .*\(raise it with --max-expansion\)$/,
    {
      limits: { maxTotalPixels: 1e9 },
    },
  );
});

test("a 1.5 MB GIF of 100,000 1x1 frames is refused after one scan of its blocks (was 7 s to read, 3.8 GB in predict)", async () => {
  const file = put("frames.gif", gifManyFramesBomb().bytes);
  await refused(
    file,
    /100,000 frames: over the limit of 1,000 frames per file \(raise it with --max-frames\)$/,
  );
});

test("a 2 KB JPEG whose header says 10000x10000 over 64x48 data is refused, never padded (was accepted at 970 MB)", async () => {
  const file = put("lie.jpg", (await jpegBomb()).bytes);
  await refused(file, /over the limit of 25,000,000 pixels per frame \(raise it with --max-pixels\)$/);
  await refused(file, /\(raise it with --max-expansion\)$/, {
    limits: { maxPixels: 1e8, maxTotalPixels: 1e9 },
  });
  // With every limit out of the way, the data still do not fill the header: truncated, not padded with grey.
  const all = { maxPixels: 1e8, maxTotalPixels: 1e9, maxExpansion: 1e9 };
  await refused(file, /cannot decode JPEG: truncated or corrupt data \(Corrupt JPEG data: premature end/, {
    limits: all,
  });
  // Within every limit (1000x1000 from 2 KB is 480x), the same.
  await refused(
    put("lie1000.jpg", await lyingJpeg(1000, 1000)),
    /cannot decode JPEG: truncated or corrupt data/,
  );
});

test("a TIFF of 2,000 pages is refused (was unfinished after 60 s); 900 pages decode in one pass", async () => {
  await refused(
    put("pages.tif", tiffPagesBomb().bytes),
    /2,000 frames: over the limit of 1,000 frames per file \(raise it with --max-frames\)$/,
  );
  const r = await readInChild(put("p900.tif", manyPageTiff(900)));
  assert.equal(r.outcome, "decoded", JSON.stringify(r));
  assert.ok(r.ms < 10_000, `${r.ms.toFixed(0)} ms for 900 pages (page by page: minutes)`);
});

test("/dev/zero, a FIFO and a folder are refused at once, as images, weights and CSV layouts", async () => {
  const zero = path.join(dir, "zero.png");
  fs.symlinkSync("/dev/zero", zero);
  await refused(zero, /is a character device: only regular files are read$/, {}, { ms: 1_000, rssMiB: 150 });
  const fifo = path.join(dir, "fifo.png");
  assert.equal(spawnSync("mkfifo", [fifo]).status, 0);
  await refused(
    fifo,
    /is a FIFO \(named pipe\): only regular files are read$/,
    {},
    { ms: 1_000, rssMiB: 150 },
  );
  await refused(dir, /is a folder, not an image file$/, {}, { ms: 1_000, rssMiB: 150 });
  const weights = path.join(dir, "model.safetensors");
  fs.symlinkSync("/dev/zero", weights);
  await refused(weights, /is a character device/, { format: "safetensors" }, { ms: 1_000, rssMiB: 150 });
  await refused(fifo, /is a FIFO/, { format: "csv" }, { ms: 1_000, rssMiB: 150 });
  await refused(fifo, /is a FIFO/, { format: "npy" }, { ms: 1_000, rssMiB: 150 });
});

/** Runs the CLI; its exit code, stderr and wall time. */
function cli(
  args: string[],
  timeoutMs = 30_000,
): Promise<{ code: number | null; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, ms: Date.now() - t0 });
    });
  });
}

test("predict: the 100,000-frame GIF is refused in one line naming --max-frames, leaving nothing behind", async () => {
  const model = path.join(dir, "model");
  saveTinyModel(model);
  const file = put("frames.gif", gifManyFramesBomb().bytes);
  const out = path.join(dir, "pred-frames");
  const r = await cli(["predict", "--model", model, file, "--out", out, "--quiet"]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(
    r.stderr.trim(),
    `nerveseg: ${file}: 100,000 frames: over the limit of 1,000 frames per file (raise it with --max-frames)`,
  );
  assert.ok(r.ms < 15_000, `${r.ms} ms`);
  assert.deepEqual(fs.existsSync(out) ? fs.readdirSync(out) : [], [], "no staging folder left");
  // The flag raises the limit: the same command gets past it (to the next one, the file's total pixels).
  const raised = await cli([
    "predict",
    "--model",
    model,
    file,
    "--out",
    out,
    "--quiet",
    "--max-frames",
    "100000",
    "--max-total-pixels",
    "1000",
  ]);
  assert.match(raised.stderr, /over the limit of 1,000 pixels per file \(raise it with --max-total-pixels\)/);
});

test("predict, prepare: /dev/zero on the command line, in a CSV layout, or as model.safetensors is one line and exit 1", async () => {
  const model = path.join(dir, "model-zero");
  saveTinyModel(model);
  const zeroImage = path.join(dir, "zero-input.png");
  fs.symlinkSync("/dev/zero", zeroImage);
  let r = await cli(["predict", "--model", model, zeroImage, "--out", path.join(dir, "p1"), "--quiet"]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim(), `nerveseg: ${zeroImage}: is a character device: only regular files are read`);

  const csvDir = path.join(dir, "csv-layout");
  fs.mkdirSync(csvDir);
  fs.symlinkSync("/dev/zero", path.join(csvDir, "scan.png"));
  fs.writeFileSync(path.join(csvDir, "mask.png"), new Uint8Array(0));
  fs.writeFileSync(path.join(csvDir, "list.csv"), "image,mask\nscan.png,mask.png\n");
  r = await cli([
    "prepare",
    "--input",
    path.join(csvDir, "list.csv"),
    "--out",
    path.join(dir, "prep"),
    "--quiet",
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr.trim(),
    /^nerveseg: .*scan\.png: is a character device: only regular files are read$/,
  );
  assert.ok(r.ms < 15_000, `${r.ms} ms`);

  const weights = path.join(model, "model.safetensors");
  fs.rmSync(weights);
  fs.symlinkSync("/dev/zero", weights);
  const png = put(
    "one.png",
    await sharp(Buffer.alloc(64 * 48), { raw: { width: 64, height: 48, channels: 1 } })
      .png()
      .toBuffer(),
  );
  r = await cli(["predict", "--model", model, png, "--out", path.join(dir, "p2"), "--quiet"]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim(), `nerveseg: ${weights}: is a character device: only regular files are read`);
});

/** A DICOM cine of `frames` frames of 500x500 (uncompressed): about a second of decoding per 40 frames. */
function cine(name: string, frames: number): string {
  const pixels = new Uint8Array(500 * 500 * frames).map((_, i) => (i * 7) & 255);
  return put(name, encodeDicom({ transferSyntax: TS.explicitLE, rows: 500, cols: 500, frames, pixels }));
}

test("SIGTERM in the middle of decoding a many-frame DICOM on the main thread is handled within a second", async () => {
  const file = cine("cine-main.dcm", 160);
  const reader = path.join(PROJECT_ROOT, "dist", "src", "io", "image-read.js");
  // The file is read first; the timer can fire only when the decoder gives the event loop a turn.
  const script =
    `import fs from "node:fs";` +
    `import { decodeImage } from ${JSON.stringify(reader)};` +
    `process.on("SIGTERM", () => process.exit(143));` +
    `const bytes = fs.readFileSync(${JSON.stringify(file)});` +
    `setTimeout(() => process.stdout.write("tick\\n"), 200);` +
    `await decodeImage(bytes, ${JSON.stringify(file)});` +
    `process.stdout.write("done\\n");` +
    `setTimeout(() => {}, 3000);`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  let sentAt = 0;
  child.stdout.on("data", (d: Buffer) => {
    out += d;
    if (out.includes("tick") && sentAt === 0) {
      sentAt = Date.now();
      child.kill("SIGTERM");
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  const latency = Date.now() - sentAt;
  assert.ok(sentAt > 0, "the signal was sent");
  assert.ok(
    !out.includes("done"),
    `the event loop turned only after the whole decode: ${JSON.stringify(out)}`,
  );
  assert.equal(code, 143);
  assert.ok(latency < 1_000, `exit ${latency} ms after SIGTERM`);
});

test("SIGTERM while predict's workers decode a long cine: exit within a second, no staging folder left", async () => {
  const model = path.join(dir, "model-sig");
  saveTinyModel(model);
  const file = cine("cine-worker.dcm", 200);
  const out = path.join(dir, "pred-sig");
  const child = spawn(process.execPath, [CLI, "predict", "--model", model, file, "--out", out, "--quiet"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d));
  let sentAt = 0;
  const poll = setInterval(() => {
    // The staging folder exists once the model is loaded and decoding has begun.
    if (
      sentAt === 0 &&
      fs.existsSync(out) &&
      fs.readdirSync(out).some((f) => f.startsWith(".nerveseg-tmp-"))
    ) {
      setTimeout(() => {
        sentAt = Date.now();
        child.kill("SIGTERM");
      }, 300);
      sentAt = -1;
    }
  }, 10);
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearInterval(poll);
  const latency = Date.now() - sentAt;
  assert.ok(sentAt > 0, `the signal was sent (${stderr})`);
  assert.equal(code, 143, stderr);
  assert.match(stderr, /^nerveseg: interrupted \(SIGTERM\)/);
  assert.ok(latency < 1_000, `exit ${latency} ms after SIGTERM`);
  assert.deepEqual(fs.readdirSync(out), [], "no staging folder or output left");
});
