// `kill -9` of a real `nerveseg train` process mid-run, then `--resume`: the final weights equal an
// uninterrupted run's, and the best model on disk stays loadable throughout.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { PROJECT_ROOT, tempDir } from "../helpers/sample.js";
import { checkpointPath, readCheckpoint } from "../../src/train/checkpoint.js";
import { readSafetensors } from "../../src/io/safetensors.js";
import { loadModel } from "../../src/model/model-file.js";
import { writePreparedFixture } from "./trainer-fixture.js";

const CLI = path.join(PROJECT_ROOT, "dist", "src", "cli", "main.js");

function args(data: string, preset: string, out: string): string[] {
  return [CLI, "train", "--data", data, "--preset", preset, "--out", out, "--threads", "1", "--quiet"];
}

test("kill -9 mid-training, then --resume: same final weights as an uninterrupted run", async () => {
  const data = tempDir();
  writePreparedFixture(data, { frames: 16, width: 32, height: 32, val: [1, 6, 11], seed: 8 });
  const preset = path.join(data, "tiny.json");
  fs.writeFileSync(
    preset,
    JSON.stringify({
      model: { inputHeight: 16, inputWidth: 16, filters: [4, 8] },
      // A checkpoint after (nearly) every step, so the kill lands mid-epoch after some of them.
      train: { epochs: 12, batch: 4, lr: 0.01, valMinArea: 0, checkpointMinutes: 1e-6 },
    }),
  );
  const full = tempDir();
  const r = spawnSync(process.execPath, args(data, preset, full), { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);

  const cut = tempDir();
  const child = spawn(process.execPath, args(data, preset, cut), { stdio: "ignore" });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on("exit", (_code, signal) => resolve(signal)),
  );
  // Wait for a mid-epoch checkpoint past the first epoch, then kill without warning.
  for (;;) {
    await new Promise((res) => setTimeout(res, 5));
    if (!fs.existsSync(checkpointPath(cut))) continue;
    const ck = readCheckpoint(cut);
    if (ck && ck.state.epoch >= 1 && ck.state.batchInEpoch > 0) break;
  }
  child.kill("SIGKILL");
  assert.equal(await exited, "SIGKILL", "the run finished before it could be killed");
  const killedAt = readCheckpoint(cut)!.state;
  assert.ok(killedAt.globalStep < 12 * 4, `killed at step ${killedAt.globalStep}`);
  loadModel(cut).model.dispose(); // the best model written so far is intact

  const resumed = spawnSync(process.execPath, [...args(data, preset, cut), "--resume"], { encoding: "utf8" });
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stderr, /resume: epoch \d+, batch \d+/);
  const a = readSafetensors(checkpointPath(full)).tensors;
  const b = readSafetensors(checkpointPath(cut)).tensors;
  assert.deepEqual(Object.keys(b), Object.keys(a));
  for (const k of Object.keys(a)) assert.deepEqual(b[k].data, a[k].data, k);
  // The best model too (same epoch, same weights).
  const bestA = readSafetensors(path.join(full, "model.safetensors"));
  const bestB = readSafetensors(path.join(cut, "model.safetensors"));
  assert.equal(bestB.metadata.epoch, bestA.metadata.epoch);
  for (const k of Object.keys(bestA.tensors))
    assert.deepEqual(bestB.tensors[k].data, bestA.tensors[k].data, k);
});
