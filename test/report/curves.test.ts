import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { PNG } from "pngjs";
import { ADVANCE, GLYPH_ASCENT, GLYPH_H, GLYPH_W, glyph, textWidth } from "../../src/report/bitmap-font.js";
import {
  BEST_COLOR,
  bestEpoch,
  CURVES_HEIGHT,
  CURVES_WIDTH,
  type PanelGeometry,
  Raster,
  SERIES_COLORS,
  niceTicks,
  renderCurves,
  toPixel,
  writeCurvesPng,
} from "../../src/report/curves.js";
import type { HistoryRow } from "../../src/train/history.js";
import { tempDir } from "../helpers/sample.js";

function rows(n: number, withVal = true): HistoryRow[] {
  return Array.from({ length: n }, (_, i) => {
    const e = i + 1;
    return {
      epoch: e,
      loss: 1 / e + 0.1,
      val_loss: withVal ? 1 / e + 0.5 : NaN,
      dice: 0.9 - 0.6 / e,
      val_dice: withVal ? 0.5 - 0.3 / e : NaN,
      val_score: withVal ? 0.2 : NaN,
      lr: e < 10 ? 1e-3 : 2e-4,
      img_per_s: 100,
    };
  });
}

function countColor(rgb: Uint8Array, c: readonly number[], region?: PanelGeometry): number {
  let n = 0;
  for (let y = 0; y < CURVES_HEIGHT; y++) {
    for (let x = 0; x < CURVES_WIDTH; x++) {
      if (region && (x < region.left || x > region.right || y < region.top || y > region.bottom)) continue;
      const i = (y * CURVES_WIDTH + x) * 3;
      if (rgb[i] === c[0] && rgb[i + 1] === c[1] && rgb[i + 2] === c[2]) n++;
    }
  }
  return n;
}

test("niceTicks picks 1-2-5 steps covering the range", () => {
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(1, 40, 6), [10, 20, 30, 40]);
  assert.deepEqual(niceTicks(0.123, 0.171, 5), [0.13, 0.14, 0.15, 0.16, 0.17]);
  assert.deepEqual(niceTicks(3, 3), [3]);
});

test("each series is drawn in its colour at its data points", () => {
  const h = rows(20);
  const pic = renderCurves(h);
  assert.equal(pic.rgb.length, CURVES_WIDTH * CURVES_HEIGHT * 3);
  const at = (g: PanelGeometry, x: number, y: number) => {
    const [px, py] = toPixel(g, x, y);
    assert.ok(px >= g.left && px <= g.right && py >= g.top && py <= g.bottom, "inside the plot");
    const i = (py * CURVES_WIDTH + px) * 3;
    return [pic.rgb[i], pic.rgb[i + 1], pic.rgb[i + 2]];
  };
  // Every data point outside the legend box shows its series' colour (series drawn later may cover
  // earlier ones where they cross, so check the last-drawn series of each panel everywhere, others where
  // no later series passes within 3 px).
  type Key = "loss" | "val_loss" | "dice" | "val_dice" | "val_score";
  const panels: [PanelGeometry, Key[]][] = [
    [pic.loss, ["loss", "val_loss"]],
    [pic.dice, ["dice", "val_dice", "val_score"]],
  ];
  let checked = 0;
  for (const [g, keys] of panels) {
    const [lx, ly, lw, lh] = g.legend!;
    keys.forEach((key, k) => {
      for (const row of h) {
        const [px, py] = toPixel(g, row.epoch, row[key]);
        if (px >= lx - 3 && px <= lx + lw + 3 && py >= ly - 3 && py <= ly + lh + 3) continue;
        const covered = keys
          .slice(k + 1)
          .some((later) => Math.abs(toPixel(g, row.epoch, row[later])[1] - py) <= 3);
        if (covered) continue;
        assert.deepEqual(at(g, row.epoch, row[key]), SERIES_COLORS[key], `${key} at epoch ${row.epoch}`);
        checked++;
      }
    });
  }
  assert.ok(checked > 60, `checked ${checked} points`);
  // The dice panel keeps a 0..1 axis; the loss axis spans the data.
  assert.equal(pic.dice.yMin, 0);
  assert.equal(pic.dice.yMax, 1);
  assert.ok(pic.loss.yMin <= 0.15 && pic.loss.yMax >= 1.5);
  assert.ok(pic.loss.xMin <= 1 && pic.loss.xMax >= 20);
});

test("a series with no values is neither drawn nor in the legend", () => {
  const pic = renderCurves(rows(12, false));
  assert.equal(countColor(pic.rgb, SERIES_COLORS.val_loss), 0);
  assert.equal(countColor(pic.rgb, SERIES_COLORS.val_score), 0);
  assert.ok(countColor(pic.rgb, SERIES_COLORS.loss, pic.loss) > 100);
  // Single-epoch and empty histories still draw axes without failing.
  assert.ok(countColor(renderCurves(rows(1)).rgb, SERIES_COLORS.val_score) > 0);
  assert.ok(countColor(renderCurves([]).rgb, [0, 0, 0]) > 1000);
});

test("writes a PNG of the stated size, atomically", () => {
  const dir = tempDir();
  const file = path.join(dir, "curves.png");
  writeCurvesPng(file, rows(30));
  assert.deepEqual(fs.readdirSync(dir), ["curves.png"]);
  const png = PNG.sync.read(fs.readFileSync(file));
  assert.equal(png.width, CURVES_WIDTH);
  assert.equal(png.height, CURVES_HEIGHT);
});

test("the bitmap font draws every glyph it defines into its cell", () => {
  for (const ch of "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._-+:/()%=,") {
    const g = glyph(ch);
    assert.equal(g.length, GLYPH_W * GLYPH_H);
    assert.ok(
      g.some((v) => v === 1),
      `glyph ${ch} has ink`,
    );
    assert.notDeepEqual(g, glyph("?"), `glyph ${ch} is defined`);
  }
  assert.deepEqual(glyph("€"), glyph("?"));
  assert.equal(textWidth("loss", 2), (4 * ADVANCE - 1) * 2);
  const r = new Raster(40, 20);
  r.text(1, 1, "l", [0, 0, 0], 2);
  // "l" is ".##..,..#.." ...: its top row has ink at columns 1 and 2 -> pixels x = 3..6, y = 1..2.
  assert.deepEqual(r.get(3, 1), [0, 0, 0]);
  assert.deepEqual(r.get(6, 2), [0, 0, 0]);
  assert.deepEqual(r.get(1, 1), [255, 255, 255]);
});

test("bestEpoch is the first epoch with the lowest val_loss, or loss where there is no validation", () => {
  const h = rows(20); // val_loss = 1/e + 0.5 falls to the last epoch
  assert.equal(bestEpoch(h), 20);
  h[6].val_loss = 0.1;
  h[9].val_loss = 0.1;
  assert.equal(bestEpoch(h), 7, "ties: the first, as the trainer keeps it");
  assert.equal(bestEpoch(rows(5, false)), 5);
  assert.equal(bestEpoch([]), null);
});

test("the best epoch is marked in both panels and named in the legend; both y axes have a title", () => {
  const h = rows(20);
  h[6].val_loss = 0.2; // epoch 7 is the best
  const pic = renderCurves(h);
  const inColumn = (g: PanelGeometry, epoch: number): number => {
    const [px] = toPixel(g, epoch, g.yMin);
    const [lx, ly, lw, lh] = g.legend!;
    let n = 0;
    for (let y = g.top; y <= g.bottom; y++)
      for (let x = px - 1; x <= px + 1; x++) {
        if (x >= lx && x <= lx + lw && y >= ly && y <= ly + lh) continue; // the legend's swatch
        const i = (y * CURVES_WIDTH + x) * 3;
        if (
          pic.rgb[i] === BEST_COLOR[0] &&
          pic.rgb[i + 1] === BEST_COLOR[1] &&
          pic.rgb[i + 2] === BEST_COLOR[2]
        )
          n++;
      }
    return n;
  };
  for (const g of [pic.loss, pic.dice]) {
    assert.ok(inColumn(g, 7) > 150, `a dashed line at epoch 7: ${inColumn(g, 7)} px`);
    assert.equal(inColumn(g, 12), 0, "nowhere else");
    // The legend swatch: BEST_COLOR inside the legend box.
    const [lx, ly, lw, lh] = g.legend!;
    let swatch = 0;
    for (let y = ly; y < ly + lh; y++)
      for (let x = lx; x < lx + lw; x++) {
        const i = (y * CURVES_WIDTH + x) * 3;
        if (
          pic.rgb[i] === BEST_COLOR[0] &&
          pic.rgb[i + 1] === BEST_COLOR[1] &&
          pic.rgb[i + 2] === BEST_COLOR[2]
        )
          swatch++;
      }
    assert.ok(swatch > 10, `legend swatch ${swatch} px`);
    // The y-axis title: ink in the margin left of the tick labels, across the middle of the plot.
    const x0 = g === pic.loss ? 0 : CURVES_WIDTH / 2;
    let ink = 0;
    for (let y = g.top; y <= g.bottom; y++)
      for (let x = x0; x < x0 + 12 + GLYPH_H * 2; x++) if (pic.rgb[(y * CURVES_WIDTH + x) * 3] === 0) ink++;
    assert.ok(ink > 40, `y-axis title ink ${ink} px`);
  }
  // No best mark without any loss.
  assert.equal(countColor(renderCurves([]).rgb, BEST_COLOR), 0);
});

test("lowercase g, j, p, q, y hang below the baseline; the others and the digits sit on it", () => {
  const below = (ch: string) =>
    glyph(ch)
      .subarray(GLYPH_ASCENT * GLYPH_W)
      .some((v) => v === 1);
  for (const ch of "gjpqy") assert.ok(below(ch), `${ch} has a descender`);
  for (const ch of "abcdefhiklmnorstuvwxzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") assert.ok(!below(ch), ch);
  // "Kaggle" must not read "Ka99le": g starts at the x-height (2 blank rows on top), 9 does not.
  assert.notDeepEqual(glyph("g"), glyph("9"));
  assert.ok(
    glyph("g")
      .subarray(0, 2 * GLYPH_W)
      .every((v) => v === 0),
  );
  assert.ok(
    glyph("9")
      .subarray(0, GLYPH_W)
      .some((v) => v === 1),
  );
});
