import assert from "node:assert/strict";
import { test } from "node:test";
import { ReduceLROnPlateau } from "../../src/train/lr-schedule.js";

const run = (s: ReduceLROnPlateau, losses: number[]) => losses.map((l) => s.step(l).lr);

test("Keras defaults: factor 0.2 after 6 flat epochs, absolute min_delta 1e-4, floor at min_lr", () => {
  const s = new ReduceLROnPlateau(0.1, { minLr: 0.001 });
  // 0.79995 is lower than 0.8 but not by min_delta, so it counts as no improvement.
  const losses = [1.0, 0.9, 0.8, 0.79995, ...Array(11).fill(0.8), 0.7, ...Array(14).fill(0.75)];
  const lrs = run(s, losses);
  const want = [
    ...Array(8).fill(0.1), // epochs 1-8; the 6th flat epoch (9) reduces
    ...Array(6).fill(0.1 * 0.2), // epochs 9-14
    ...Array(7).fill(0.1 * 0.2 * 0.2), // epochs 15-21 (epoch 16 improves, 17-22 are flat)
    ...Array(9).fill(0.001), // epoch 22: 0.0008 clamps to min_lr, then never below it
  ];
  assert.deepEqual(lrs, want);
  const st = s.state();
  assert.equal(st.best, 0.7);
  assert.equal(st.wait, 8, "at min_lr the wait keeps counting");
});

test("reports reduced/improved flags", () => {
  const s = new ReduceLROnPlateau(1, { patience: 1, factor: 0.5 });
  assert.deepEqual(s.step(2), { lr: 1, reduced: false, improved: true, stop: false });
  assert.deepEqual(s.step(3), { lr: 0.5, reduced: true, improved: false, stop: false });
});

test("relative threshold mode: improvement means value < best * (1 - minDelta)", () => {
  const s = new ReduceLROnPlateau(1, { patience: 2, factor: 0.5, minDelta: 0.1, thresholdMode: "rel" });
  assert.deepEqual(run(s, [1, 0.95, 0.89, 0.85, 0.85, 0.85, 0.85]), [1, 1, 1, 1, 0.5, 0.5, 0.25]);
});

test("cooldown follows Keras (its last epoch already counts towards patience)", () => {
  const s = new ReduceLROnPlateau(1, { patience: 1, factor: 0.5, cooldown: 2 });
  assert.deepEqual(run(s, Array(7).fill(1)), [1, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125]);
});

test("early stopping after `earlyStopPatience` epochs without any improvement", () => {
  const s = new ReduceLROnPlateau(1, { earlyStopPatience: 3 });
  assert.deepEqual(
    [1, 0.5, 0.6, 0.5, 0.5].map((l) => s.step(l).stop),
    [false, false, false, false, true],
  );
  const never = new ReduceLROnPlateau(1);
  assert.ok(
    Array(50)
      .fill(1)
      .every((l) => !never.step(l).stop),
  );
});

test("NaN never counts as an improvement", () => {
  const s = new ReduceLROnPlateau(1, { patience: 2, factor: 0.5 });
  assert.deepEqual(run(s, [NaN, NaN, 1, NaN, NaN]), [1, 0.5, 0.5, 0.5, 0.25]);
});

test("state survives JSON and resumes exactly", () => {
  const losses = [
    1, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85,
  ];
  const opts = { cooldown: 1, minLr: 1e-4, earlyStopPatience: 20 };
  const whole = run(new ReduceLROnPlateau(0.01, opts), losses);
  const first = new ReduceLROnPlateau(0.01, opts);
  const a = run(first, losses.slice(0, 7));
  const saved = JSON.parse(JSON.stringify(first.state()));
  const resumed = new ReduceLROnPlateau(999, opts, saved);
  const b = run(resumed, losses.slice(7));
  assert.deepEqual([...a, ...b], whole);
  assert.ok(
    whole.some((lr) => lr < 0.01),
    "the sequence does reduce",
  );
  assert.deepEqual(
    resumed.state(),
    (() => {
      const s = new ReduceLROnPlateau(0.01, opts);
      run(s, losses);
      return s.state();
    })(),
  );
});

test("a fresh state (best unknown) survives JSON too", () => {
  const s = new ReduceLROnPlateau(0.5);
  const restored = new ReduceLROnPlateau(0.5, {}, JSON.parse(JSON.stringify(s.state())));
  assert.equal(restored.step(3).improved, true);
});

test("rejects a factor outside (0, 1)", () => {
  assert.throws(() => new ReduceLROnPlateau(1, { factor: 1 }), /factor/);
});
