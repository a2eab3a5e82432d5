import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeRle, parseRle } from "../../src/io/rle.js";
import { dice, diceFromCounts, diceRuns } from "../../src/metric/dice.js";

const m = (...v: number[]): Uint8Array => Uint8Array.from(v);

test("dice on hand-made masks: exact values", () => {
  assert.equal(dice(m(1, 1, 0, 0), m(0, 1, 1, 0)), 0.5); // 2*1 / (2+2)
  assert.equal(dice(m(255, 255, 255, 0), m(0, 1, 0, 0)), 0.5); // 2*1 / (3+1); any nonzero value is "on"
  assert.equal(dice(m(1, 1, 1, 1), m(1, 1, 1, 1)), 1);
  assert.equal(dice(m(1, 0, 1, 0, 1), m(1, 1, 1, 1, 1)), 0.75); // 2*3 / (3+5)
  assert.equal(dice(m(1, 1, 0, 0, 0), m(0, 0, 1, 1, 1)), 0); // disjoint
});

test("dice: 1 when both masks are empty, 0 when exactly one is", () => {
  assert.equal(dice(m(0, 0, 0), m(0, 0, 0)), 1);
  assert.equal(dice(m(0, 0, 0), m(0, 9, 0)), 0);
  assert.equal(dice(m(7, 0, 0), m(0, 0, 0)), 0);
  assert.equal(dice(new Uint8Array(0), new Uint8Array(0)), 1);
  assert.throws(() => dice(m(1), m(1, 0)), /masks differ in size \(1 vs 2 pixels\)/);
});

test("diceFromCounts and diceRuns agree with dice", () => {
  assert.equal(diceFromCounts(0, 0, 0), 1);
  assert.equal(diceFromCounts(3, 4, 8), 0.5);
  let seed = 1;
  const rnd = (): number => (seed = (seed * 48271) % 2147483647);
  for (let trial = 0; trial < 50; trial++) {
    const w = 1 + (trial % 9);
    const h = 1 + (trial % 4) * 3;
    const density = trial % 5; // 0 gives empty masks now and then
    const a = new Uint8Array(w * h).map(() => (rnd() % 5 < density ? 1 : 0));
    const b = new Uint8Array(w * h).map(() => (rnd() % 5 < density ? 1 : 0));
    const ra = parseRle(encodeRle(a, w, h), w, h);
    const rb = parseRle(encodeRle(b, w, h), w, h);
    assert.equal(diceRuns(ra, rb), dice(a, b), `trial ${trial}`);
  }
});
