import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import * as E from "../../src/engine/index.js";
import { UNet } from "../../src/model/unet.js";
import { PRESETS } from "../../src/model/config.js";
import {
  checkpointPath,
  checkResumePosition,
  readCheckpoint,
  restoreCheckpoint,
  saveCheckpoint,
  type TrainState,
} from "../../src/train/checkpoint.js";
import { UserError } from "../../src/core/errors.js";
import { tempDir } from "../helpers/sample.js";

const cfg = { ...PRESETS.fast.model, preset: "tiny", inputHeight: 16, inputWidth: 16, filters: [4, 8] };

test("checkpoint round trip restores weights, buffers, Adam state, lr and NaN history cells", () => {
  const out = tempDir();
  const net = new UNet(cfg, { mean: 0, std: 1 }, new E.Rng(1));
  const opt = new E.Adam(net.parameters(), { lr: 1e-3 });
  E.tidy(() => {
    const o = net.forward(
      E.fromArray(
        [2, 16, 16, 1],
        Float32Array.from({ length: 512 }, (_, i) => Math.sin(i)),
      ),
    );
    const l = E.add(E.sum(o.mask), E.sum(o.presence!));
    opt.zeroGrad();
    l.backward();
    opt.step();
  });
  opt.lr = 2e-4;
  const state: TrainState = {
    version: 1,
    fingerprint: "fp",
    epoch: 1,
    batchInEpoch: 0,
    globalStep: 1,
    optimizer: { kind: "adam", step: opt.stepCount, lr: opt.lr },
    plateau: { lr: 2e-4, best: 0.5, wait: 1, cooldownCounter: 0, stopBest: 0.5, stopWait: 1, epochs: 2 },
    dropoutRng: [1, 2, 3, 4],
    best: { valLoss: 0.5, epoch: 1 },
    history: [
      {
        epoch: 1,
        loss: 0.9,
        val_loss: NaN,
        dice: 0.1,
        val_dice: NaN,
        val_score: NaN,
        lr: 1e-3,
        img_per_s: 5,
      },
    ],
    running: { loss: 1, dice: 2, images: 3, batches: 1, seconds: 0.5 },
  };
  saveCheckpoint(out, net, opt, state);
  const ck = readCheckpoint(out)!;
  assert.deepEqual(ck.state, state);
  const net2 = new UNet(cfg, { mean: 0, std: 1 }, new E.Rng(2));
  const opt2 = new E.Adam(net2.parameters(), { lr: 1e-3 });
  restoreCheckpoint(out, ck, net2, opt2);
  const a = net.stateDict();
  for (const [n, t] of net2.stateDict()) assert.deepEqual(t.data, a.get(n)!.data);
  assert.deepEqual(opt2.exportState(), opt.exportState());
  assert.equal(opt2.lr, 2e-4);
  // Into another architecture: an error naming the checkpoint.
  const wide = new UNet({ ...cfg, filters: [6, 8] }, { mean: 0, std: 1 }, new E.Rng(2));
  const optW = new E.Adam(wide.parameters());
  assert.throws(
    () => restoreCheckpoint(out, ck, wide, optW),
    (e: unknown) => e instanceof UserError && e.message.startsWith(checkpointPath(out)),
  );
  for (const m of [net, net2, wide]) m.dispose();
  for (const o of [opt, opt2, optW]) o.dispose();
});

test("no checkpoint reads as null; a foreign file is refused", () => {
  const out = tempDir();
  assert.equal(readCheckpoint(out), null);
  fs.mkdirSync(`${out}/checkpoint`);
  fs.writeFileSync(checkpointPath(out), "nonsense");
  assert.throws(() => readCheckpoint(out), /last\.safetensors: not a valid safetensors/);
});

/** A one-step tiny run's checkpoint in a fresh folder; returns the folder and the state saved. */
function savedRun(): { out: string; state: TrainState } {
  const out = tempDir();
  const net = new UNet(cfg, { mean: 0, std: 1 }, new E.Rng(1));
  const opt = new E.Adam(net.parameters(), { lr: 1e-3 });
  E.tidy(() => {
    const o = net.forward(E.fromArray([1, 16, 16, 1], new Float32Array(256).fill(0.5)));
    opt.zeroGrad();
    E.sum(o.mask).backward();
    opt.step();
  });
  const state: TrainState = {
    version: 1,
    fingerprint: "fp",
    epoch: 0,
    batchInEpoch: 1,
    globalStep: 1,
    optimizer: { kind: "adam", step: 1, lr: 1e-3 },
    plateau: {
      lr: 1e-3,
      best: Infinity,
      wait: 0,
      cooldownCounter: 0,
      stopBest: Infinity,
      stopWait: 0,
      epochs: 0,
    },
    dropoutRng: null,
    best: null,
    history: [],
    running: { loss: 1, dice: 0.5, images: 1, batches: 1, seconds: 0.1 },
  };
  saveCheckpoint(out, net, opt, state);
  net.dispose();
  opt.dispose();
  return { out, state };
}

test("a checkpoint carries a checksum: one flipped bit anywhere is refused, naming the file", () => {
  const { out } = savedRun();
  const file = checkpointPath(out);
  assert.ok(readCheckpoint(out));
  const bytes = fs.readFileSync(file);
  for (const at of [bytes.length - 5, bytes.length >> 1]) {
    const bad = Buffer.from(bytes);
    bad[at] ^= 0x10;
    fs.writeFileSync(file, bad);
    assert.throws(
      () => readCheckpoint(out),
      (e: unknown) =>
        e instanceof UserError &&
        e.message ===
          `${file}: checksum mismatch: the checkpoint was altered or damaged after it was written`,
    );
  }
});

test("a checkpoint state that does not add up is a corrupt checkpoint; a NaN is corrupt, not a divergence", () => {
  for (const [edit, why] of [
    [{ epoch: 1e9 }, /1000000000 finished epochs/],
    [{ epoch: -5 }, /epoch is -5, not a count/],
    [{ globalStep: 7 }, /optimizer step 1 but global step 7/],
    [{ optimizer: { kind: "adam", step: 1, lr: NaN } }, /optimizer\.lr is null, not a finite number/],
  ] as const) {
    const { out, state } = savedRun();
    // Re-signed with the bad state (as a bug, not a bit flip, would write it): the checks behind the checksum.
    const ck = readCheckpoint(out)!;
    const net = new UNet(cfg, { mean: 0, std: 1 }, new E.Rng(1));
    const opt = new E.Adam(net.parameters(), { lr: 1e-3 });
    restoreCheckpoint(out, ck, net, opt);
    saveCheckpoint(out, net, opt, { ...state, ...edit } as TrainState);
    assert.throws(
      () => readCheckpoint(out),
      (e: unknown) => e instanceof UserError && /corrupt checkpoint/.test(e.message) && why.test(e.message),
      JSON.stringify(edit),
    );
    net.dispose();
    opt.dispose();
  }
  const { out, state } = savedRun();
  const ck = readCheckpoint(out)!;
  const net = new UNet(cfg, { mean: 0, std: 1 }, new E.Rng(1));
  const opt = new E.Adam(net.parameters(), { lr: 1e-3 });
  restoreCheckpoint(out, ck, net, opt);
  net.parameters()[0].data[3] = NaN;
  saveCheckpoint(out, net, opt, state);
  assert.throws(() => readCheckpoint(out), /corrupt checkpoint: non-finite value model\..*\[3\] = NaN/);
  net.dispose();
  opt.dispose();
  // The position must fit the run: step = epoch x batches + batch.
  assert.throws(
    () => checkResumePosition(out, { ...state, batchInEpoch: 5, globalStep: 5 }, 4),
    /do not fit 4 batches per epoch/,
  );
  checkResumePosition(out, state, 4);
});
