import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { UserError } from "../../src/core/errors.js";
import {
  LOCK_FILE,
  lockFolder,
  StagedFolder,
  sweepStaleTemps,
  writeFileAtomic,
} from "../../src/io/atomic.js";
import { PROJECT_ROOT, tempDir } from "../helpers/sample.js";
import { writePreparedFixture } from "../train/trainer-fixture.js";

/** A pid that is certainly gone: a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
  return Number(r.stdout.trim());
}

test("temps of a process that is gone (SIGKILL, power cut) are removed by the next writer in that folder", () => {
  const dir = tempDir();
  const dead = deadPid();
  fs.writeFileSync(path.join(dir, `.train_images.npy.tmp-${dead}-1700000000000`), "half");
  fs.mkdirSync(path.join(dir, `.nerveseg-tmp-${dead}-1700000000000`, "masks"), { recursive: true });
  fs.writeFileSync(path.join(dir, `.other.tmp-${process.pid}-1`), "a live writer's temp");
  fs.writeFileSync(path.join(dir, ".hidden-but-not-ours"), "kept");
  writeFileAtomic(path.join(dir, "out.txt"), "new");
  assert.deepEqual(fs.readdirSync(dir).sort(), [
    ".hidden-but-not-ours",
    `.other.tmp-${process.pid}-1`,
    "out.txt",
  ]);
  // Once per folder per process.
  fs.writeFileSync(path.join(dir, `.late.tmp-${dead}-2`), "x");
  assert.equal(sweepStaleTemps(dir), 0);
  const other = tempDir();
  fs.mkdirSync(path.join(other, `.nerveseg-tmp-${dead}-5`));
  new StagedFolder(other).abort();
  assert.deepEqual(fs.readdirSync(other), []);
});

test("a lock per output folder: a second writer is refused naming the first; a dead owner's lock is taken over", async () => {
  const dir = tempDir();
  const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)"]);
  try {
    fs.writeFileSync(path.join(dir, LOCK_FILE), `${sleeper.pid} training real\n`);
    assert.throws(
      () => lockFolder(dir, "training fast"),
      (e: unknown) =>
        e instanceof UserError &&
        e.message ===
          `${dir}: in use by process ${sleeper.pid} (training real); wait for it to finish, or choose another folder`,
    );
  } finally {
    sleeper.kill("SIGKILL");
  }
  fs.writeFileSync(path.join(dir, LOCK_FILE), `${deadPid()} training real\n`);
  const release = lockFolder(dir, "training fast");
  assert.match(
    fs.readFileSync(path.join(dir, LOCK_FILE), "utf8"),
    new RegExp(`^${process.pid} training fast`),
  );
  release();
  assert.ok(!fs.existsSync(path.join(dir, LOCK_FILE)));

  // Two trainings into one folder through the CLI: the second is refused at once while the first goes on.
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
  const cli = path.join(PROJECT_ROOT, "dist", "src", "cli", "main.js");
  const args = [cli, "train", "--data", data, "--preset", preset, "--out", out, "--threads", "1", "--quiet"];
  const first = spawn(process.execPath, args, { stdio: "ignore" });
  const firstDone = new Promise<number | null>((resolve) => first.on("exit", resolve));
  while (!fs.existsSync(path.join(out, LOCK_FILE))) await new Promise((r) => setTimeout(r, 10));
  const second = spawnSync(process.execPath, args, { encoding: "utf8" });
  assert.equal(second.status, 1);
  assert.match(
    second.stderr,
    new RegExp(`in use by process ${first.pid} \\(training tiny\\.json|in use by process ${first.pid}`),
  );
  first.kill("SIGINT");
  assert.equal(await firstDone, 130, "the first run goes on until asked to stop");
  assert.ok(!fs.existsSync(path.join(out, LOCK_FILE)), "released at the end");
});
