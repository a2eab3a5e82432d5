// The product's two-head U-Net (src/model/unet.ts) and its presets: shapes and parameter names,
// end-to-end training (a tiny U-Net overfits a handful of images, deterministically for a fixed seed,
// without growing memory), and state-dict round trips.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import * as E from "../../src/engine/index.js";
import { UNet } from "../../src/model/unet.js";
import { bottleneckSize, PRESETS, loadPreset, type ModelConfig } from "../../src/model/config.js";
import { UserError } from "../../src/core/errors.js";
import { PROJECT_ROOT, tempDir } from "../helpers/sample.js";
import { smallUNet } from "../helpers/unet.js";

const tiny = (over: Partial<ModelConfig> = {}): ModelConfig => ({
  ...PRESETS.fast.model,
  preset: "tiny",
  inputHeight: 16,
  inputWidth: 24,
  filters: [4, 8, 16],
  ...over,
});

test("both heads have the right shapes and lie in (0, 1)", () => {
  const net = new UNet(tiny(), { mean: 100, std: 50 }, new E.Rng(1));
  E.tidy(() => {
    const x = E.fromArray(
      [3, 16, 24, 1],
      Float32Array.from({ length: 3 * 16 * 24 }, (_, i) => Math.sin(i)),
    );
    const out = net.forward(x);
    assert.deepEqual(out.mask.shape, [3, 16, 24, 1]);
    assert.ok(out.presence);
    assert.deepEqual(out.presence.shape, [3, 1]);
    for (const v of [...out.mask.data, ...out.presence.data]) assert.ok(v > 0 && v < 1);
  });
  // Presence head: 1x1 conv on the 16-channel bottleneck, dense over its 4x6 cells.
  const names = new Map(net.namedParameters().map(([n, p]) => [n, p.shape]));
  assert.deepEqual(names.get("presenceHead.conv.weight"), [1, 1, 16, 1]);
  assert.deepEqual(names.get("presenceHead.dense.weight"), [4 * 6, 1]);
  assert.deepEqual(names.get("encoder.level0.a.conv.weight"), [3, 3, 1, 4]);
  assert.deepEqual(names.get("decoder.level0.a.conv.weight"), [3, 3, 8 + 4, 4]);
  assert.deepEqual(names.get("segHead.conv.weight"), [1, 1, 4, 1]);
  assert.ok(net.namedBuffers().some(([n]) => n === "encoder.level2.b.bn.runningVar"));
  net.dispose();
});

test("5x5 kernels keep the size; no presence head gives null; wrong input shape throws", () => {
  const net = new UNet(tiny({ kernel: 5, presenceHead: false }), { mean: 0, std: 1 }, new E.Rng(2));
  E.tidy(() => {
    const out = net.forward(E.zeros([2, 16, 24, 1]));
    assert.deepEqual(out.mask.shape, [2, 16, 24, 1]);
    assert.equal(out.presence, null);
    assert.throws(() => net.forward(E.zeros([2, 24, 16, 1])), /expected \[N, 16, 24, 1\]/);
  });
  assert.equal(net.namedParameters().filter(([n]) => n.startsWith("presenceHead")).length, 0);
  net.dispose();
});

test("the presets build: fast bottleneck 4x5, reference 10x10", () => {
  assert.deepEqual(bottleneckSize(PRESETS.fast.model), { height: 4, width: 5 });
  assert.deepEqual(bottleneckSize(PRESETS.reference.model), { height: 10, width: 10 });
  assert.throws(
    () => bottleneckSize({ inputHeight: 62, inputWidth: 80, filters: [1, 2, 3] }),
    /divisible by 4/,
  );
});

test("same seed gives the same initial weights, eval output is deterministic", () => {
  const a = new UNet(tiny(), { mean: 0, std: 1 }, new E.Rng(5));
  const b = new UNet(tiny(), { mean: 0, std: 1 }, new E.Rng(5));
  const sa = a.stateDict();
  for (const [n, t] of b.stateDict()) assert.deepEqual(t.data, sa.get(n)!.data, n);
  a.dispose();
  b.dispose();
});

test("loadPreset: names, partial JSON files over fast, and errors that name the file", () => {
  assert.equal(loadPreset("reference").model.kernel, 5);
  assert.equal(loadPreset("fast").train.optimizer, "adam");
  // real is fast plus what the real-data study measured, and nothing else.
  const real = loadPreset("real");
  const { tta, trim, ...realModel } = real.model;
  assert.deepEqual({ ...realModel, preset: "fast" }, PRESETS.fast.model);
  assert.deepEqual([tta, trim], [true, true]);
  assert.deepEqual(
    {
      ...real.train,
      dice: "batch",
      pixelBce: 0,
      schedule: "plateau",
      precision: undefined,
      augment: PRESETS.fast.train.augment,
    },
    { ...PRESETS.fast.train, precision: undefined },
  );
  assert.deepEqual({ ...real.train.augment, intensity: null }, PRESETS.fast.train.augment);
  assert.deepEqual(real.train.augment.intensity, { brightness: 0.1, contrast: 0.2, gamma: 0.3 });
  assert.deepEqual(
    [real.train.dice, real.train.pixelBce, real.train.schedule, real.train.precision],
    ["strict", 1, "cosine", "auto"],
  );
  // The study's variant file is the same recipe.
  const study = loadPreset(path.join(PROJECT_ROOT, "bench/study/real.json"));
  assert.deepEqual({ ...study.model, preset: "real" }, real.model);
  assert.deepEqual(study.train, real.train);
  const dir = tempDir();
  const ok = path.join(dir, "mine.json");
  fs.writeFileSync(ok, JSON.stringify({ model: { filters: [8, 16, 32] }, train: { epochs: 2 } }));
  const p = loadPreset(ok);
  assert.deepEqual(p.model.filters, [8, 16, 32]);
  assert.equal(p.model.inputHeight, 64);
  assert.equal(p.train.epochs, 2);
  assert.equal(p.train.valMinArea, 2000);
  const bad = path.join(dir, "bad.json");
  fs.writeFileSync(bad, JSON.stringify({ model: { inputHeight: 60 } }));
  assert.throws(
    () => loadPreset(bad),
    (e: unknown) => e instanceof UserError && e.message.startsWith(bad) && /divisible by 16/.test(e.message),
  );
  fs.writeFileSync(bad, JSON.stringify({ train: { optimizer: "rmsprop" } }));
  assert.throws(() => loadPreset(bad), /train\.optimizer/);
  assert.throws(() => loadPreset(path.join(dir, "none.json")), /not a preset/);
});

function blobs(
  n: number,
  h: number,
  w: number,
  rng: E.Rng,
): { x: Float32Array; y: Float32Array; has: number[] } {
  const x = new Float32Array(n * h * w);
  const y = new Float32Array(n * h * w);
  const has: number[] = [];
  for (let i = 0; i < n; i++) {
    const present = i % 4 !== 3;
    has.push(present ? 1 : 0);
    const cy = 3 + rng.int(h - 6),
      cx = 3 + rng.int(w - 6),
      r = 2 + rng.int(3);
    for (let a = 0; a < h; a++)
      for (let b = 0; b < w; b++) {
        const inside = present && (a - cy) ** 2 + (b - cx) ** 2 <= r * r;
        x[(i * h + a) * w + b] = (inside ? 0.8 : 0.2) + 0.2 * rng.normal();
        y[(i * h + a) * w + b] = inside ? 1 : 0;
      }
  }
  return { x, y, has };
}

function trainRun(steps: number, seed: number): { losses: number[]; net: UNet } {
  const rng = new E.Rng(seed);
  const net = smallUNet([4, 8, 16], 16, rng);
  const data = blobs(4, 16, 16, rng);
  const opt = new E.Adam(net.parameters(), { lr: 1e-2 });
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const loss = E.tidy(() => {
      const x = E.fromArray([4, 16, 16, 1], data.x);
      const y = E.fromArray([4, 16, 16, 1], data.y);
      const has = E.fromArray([4, 1], data.has);
      const out = net.forward(x);
      const l = E.add(E.diceLoss(out.mask, y), E.bceLoss(out.presence!, has));
      opt.zeroGrad();
      l.backward();
      E.clipGradNorm(net.parameters(), 5);
      opt.step();
      return l.item();
    });
    losses.push(loss);
  }
  opt.dispose();
  return { losses, net };
}

test("a small U-Net overfits four images (loss falls 10x) and runs deterministically", () => {
  const before = E.nativeBytes();
  const a = trainRun(80, 7);
  const first = a.losses[0];
  const last = a.losses[a.losses.length - 1];
  assert.ok(last < first / 10, `loss went from ${first} to ${last}`);
  const b = trainRun(80, 7);
  assert.deepEqual(b.losses, a.losses, "same seed and threads must give identical losses");
  a.net.dispose();
  b.net.dispose();
  assert.equal(E.nativeBytes(), before, "all native memory is released");
});

test("state dict round trip restores the same outputs", () => {
  const a = smallUNet([2, 4], 8, new E.Rng(1));
  const b = smallUNet([2, 4], 8, new E.Rng(2));
  b.loadStateDict(a.stateDict());
  a.eval();
  b.eval();
  E.tidy(() => {
    const x = E.fromArray(
      [1, 8, 8, 1],
      Array.from({ length: 64 }, (_, i) => Math.sin(i)),
    );
    const ya = E.noGrad(() => a.forward(x).mask.toFloat32Array());
    const yb = E.noGrad(() => b.forward(x).mask.toFloat32Array());
    assert.deepEqual(yb, ya);
  });
  const names = a.namedParameters().map(([n]) => n);
  assert.ok(
    names.includes("encoder.level0.a.conv.weight") && names.includes("presenceHead.dense.bias"),
    names.join(","),
  );
  assert.ok(a.namedBuffers().some(([n]) => n === "encoder.level1.b.bn.runningVar"));
  const bad = a.stateDict();
  bad.set("segHead.conv.weight", { shape: [3], data: new Float32Array(3) });
  assert.throws(() => b.loadStateDict(bad), /segHead\.conv\.weight has shape \[3\]/);
  const extra = a.stateDict();
  extra.set("head.weight", { shape: [3], data: new Float32Array(3) });
  assert.throws(() => b.loadStateDict(extra), /unexpected entry head\.weight/);
  a.dispose();
  b.dispose();
});
