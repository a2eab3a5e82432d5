import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { UserError } from "../../src/core/errors.js";
import { AtomicFileWriter, writeFileAtomic } from "../../src/io/atomic.js";
import { writeTiff } from "../../src/io/tiff.js";
import { checkpointPath } from "../../src/train/checkpoint.js";
import { PROJECT_ROOT, tempDir } from "../helpers/sample.js";
import { writePreparedFixture } from "../train/trainer-fixture.js";

const CLI = path.join(PROJECT_ROOT, "dist", "src", "cli", "main.js");

/** A Kaggle-layout folder of n 580x420 training frames (big enough that prepare takes a while). */
function kaggleTrain(n: number, seed: number): string {
  const input = tempDir();
  fs.mkdirSync(path.join(input, "train"));
  const data = new Uint8Array(580 * 420).map((_, i) => (i * seed) & 255);
  const empty = new Uint8Array(580 * 420);
  for (let i = 1; i <= n; i++) {
    writeTiff(path.join(input, "train", `1_${i}.tif`), { width: 580, height: 420, data });
    writeTiff(path.join(input, "train", `1_${i}_mask.tif`), { width: 580, height: 420, data: empty });
  }
  return input;
}

/** Starts the CLI, sends `signal` once `ready()` holds, and returns its exit code and output. */
async function interrupt(
  args: string[],
  ready: () => boolean,
  signal: NodeJS.Signals = "SIGINT",
): Promise<{ code: number | null; stdout: string; stderr: string; sent: boolean }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  let sent = false;
  const poll = setInterval(() => {
    if (!sent && ready()) {
      sent = true;
      child.kill(signal);
    }
  }, 5);
  const code = await exited;
  clearInterval(poll);
  return { code, stdout, stderr, sent };
}

test("Ctrl-C during prepare: no temp files, no half folder, one line; SIGTERM alike", async () => {
  const input = kaggleTrain(150, 13);
  for (const [signal, exit] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    const out = path.join(tempDir(), "prepared");
    const hasTemp = () => fs.existsSync(out) && fs.readdirSync(out).some((f) => f.includes(".tmp-"));
    const r = await interrupt(
      ["prepare", "--input", input, "--out", out, "--workers", "1", "--quiet"],
      hasTemp,
      signal,
    );
    assert.ok(r.sent, "the signal was sent while temp files existed");
    assert.equal(r.code, exit, r.stderr);
    assert.match(
      r.stderr.trim(),
      new RegExp(`^nerveseg: interrupted \\(${signal}\\); removed \\d+ unfinished`),
    );
    assert.equal(fs.existsSync(out), false, "the folder the run created is gone");
  }
});

test("a closed stderr pipe during prepare stops it like a signal: nothing half-made is left", async () => {
  const input = kaggleTrain(120, 7);
  const out = path.join(tempDir(), "prepared");
  // Not --quiet, and not a terminal: progress lines go to stderr, which the reader closes after the first.
  const child = spawn(process.execPath, [CLI, "prepare", "--input", input, "--out", out, "--workers", "1"], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, CI: "1" },
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  child.stderr.once("data", () => child.stderr.destroy());
  const code = await exited;
  assert.ok(code === 141 || code === 0, `exit ${code}`);
  if (code === 141) assert.equal(fs.existsSync(out), false, "the folder the run created is gone");
  else
    assert.ok(
      fs.existsSync(path.join(out, "manifest.json")),
      "finished before the pipe broke: complete output",
    );
  if (fs.existsSync(out))
    assert.deepEqual(
      fs.readdirSync(out).filter((f) => f.includes(".tmp-")),
      [],
    );
});

test("Ctrl-C during train: stops after the step, saves the resume state, says what it kept; --resume finishes", async () => {
  const data = tempDir();
  writePreparedFixture(data, { frames: 16, width: 32, height: 32, val: [1, 6], seed: 3 });
  const preset = path.join(data, "tiny.json");
  fs.writeFileSync(
    preset,
    JSON.stringify({
      model: { inputHeight: 16, inputWidth: 16, filters: [4, 8] },
      train: { epochs: 400, batch: 4, valMinArea: 0 },
    }),
  );
  const out = tempDir();
  const args = ["train", "--data", data, "--preset", preset, "--out", out, "--threads", "1", "--quiet"];
  const r = await interrupt(args, () => fs.existsSync(path.join(out, "history.csv")));
  assert.ok(r.sent);
  assert.equal(r.code, 130, r.stderr);
  assert.match(
    r.stdout,
    /interrupted \(SIGINT\) after \d+ step\(s\): the resume state is saved in .*checkpoint.*; the best model so far \(epoch \d+\) is in/,
  );
  assert.ok(fs.existsSync(checkpointPath(out)));
  assert.deepEqual(
    fs.readdirSync(out).filter((f) => f.includes(".tmp-")),
    [],
  );
  fs.writeFileSync(
    preset,
    JSON.stringify({
      model: { inputHeight: 16, inputWidth: 16, filters: [4, 8] },
      train: { epochs: 2, batch: 4, valMinArea: 0 },
    }),
  );
  const resumed = spawnSync(
    process.execPath,
    [CLI, ...args.slice(0, -1).map((a) => a), "--resume", "--epochs", "400", "--max-minutes", "0"],
    { encoding: "utf8" },
  );
  assert.equal(resumed.status, 0, resumed.stderr);
});

test("a full disk names the file, and the temp file is gone", () => {
  const dir = tempDir();
  const target = path.join(dir, "big.npy");
  const write = fs.writeSync;
  const full = () => {
    throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
  };
  try {
    const w = new AtomicFileWriter(target);
    (fs as { writeSync: unknown }).writeSync = full;
    assert.throws(
      () => w.write(new Uint8Array(10)),
      (e: unknown) =>
        e instanceof UserError && e.message === `${target}: cannot write: no space left on device (ENOSPC)`,
    );
    (fs as { writeSync: unknown }).writeSync = write;
    const wf = fs.writeFileSync;
    (fs as { writeFileSync: unknown }).writeFileSync = full;
    try {
      assert.throws(
        () => writeFileAtomic(target, "x"),
        /big\.npy: cannot write: no space left on device \(ENOSPC\)/,
      );
    } finally {
      (fs as { writeFileSync: unknown }).writeFileSync = wf;
    }
  } finally {
    (fs as { writeSync: unknown }).writeSync = write;
  }
  assert.deepEqual(fs.readdirSync(dir), []);
});

test("SIGTERM during train: the same graceful stop, and the conventional exit status 143", async () => {
  const data = tempDir();
  writePreparedFixture(data, { frames: 16, width: 32, height: 32, val: [1, 6], seed: 3 });
  const preset = path.join(data, "tiny.json");
  fs.writeFileSync(
    preset,
    JSON.stringify({
      model: { inputHeight: 16, inputWidth: 16, filters: [4, 8] },
      train: { epochs: 400, batch: 4 },
    }),
  );
  const out = tempDir();
  const args = ["train", "--data", data, "--preset", preset, "--out", out, "--threads", "1", "--quiet"];
  const r = await interrupt(args, () => fs.existsSync(path.join(out, "history.csv")), "SIGTERM");
  assert.ok(r.sent);
  assert.equal(r.code, 143, r.stderr);
  assert.match(r.stdout, /interrupted \(SIGTERM\) after \d+ step\(s\): the resume state is saved/);
  assert.ok(fs.existsSync(checkpointPath(out)));
});
