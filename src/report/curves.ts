import { encodePng } from "../io/png.js";
import { type Rgb } from "./overlay.js";
import { writeFileAtomic } from "../io/atomic.js";
import { GLYPH_ASCENT, GLYPH_H, GLYPH_W, ADVANCE, glyph, textWidth } from "./bitmap-font.js";

/*
 * The learning-curves picture: two panels side by side, loss / val_loss on the left and
 * dice / val_dice / val_score on the right (fixed 0..1 axis so runs compare at a glance), against the
 * epoch, with axes, tick labels, axis titles, a legend, dashed verticals where the learning rate was cut and
 * a mark at the best epoch (the one whose weights the model folder keeps: see bestEpoch).
 * Drawn into an RGB buffer with a 5x7 bitmap font (no native canvas needed) and encoded with pngjs.
 */

/** One epoch's numbers as the curves draw them (training's history rows are these and more); NaN: not measured. */
export interface CurveRow {
  epoch: number;
  loss: number;
  val_loss: number;
  dice: number;
  val_dice: number;
  val_score: number;
  lr: number;
}

export const CURVES_WIDTH = 1200;
export const CURVES_HEIGHT = 480;
const FONT = 2; // font scale: 10x14-pixel characters

const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];
const GRID: Rgb = [225, 225, 225];
const LR_MARK: Rgb = [150, 150, 150];
/** The best-epoch mark (a purple no series uses). */
export const BEST_COLOR: Rgb = [148, 103, 189];
export const SERIES_COLORS: Record<string, Rgb> = {
  loss: [31, 119, 180],
  val_loss: [255, 127, 14],
  dice: [31, 119, 180],
  val_dice: [255, 127, 14],
  val_score: [44, 160, 44],
};

/** An RGB raster with the few drawing operations a chart needs. */
export class Raster {
  readonly rgb: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = WHITE,
  ) {
    this.rgb = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.rgb.set(background, i * 3);
  }

  set(x: number, y: number, c: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.rgb.set(c, (y * this.width + x) * 3);
  }

  get(x: number, y: number): Rgb {
    const i = (y * this.width + x) * 3;
    return [this.rgb[i], this.rgb[i + 1], this.rgb[i + 2]];
  }

  fillRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) this.set(x + i, y + j, c);
  }

  /** A line `thickness` pixels wide; `dash` = [on, off] lengths in pixels. */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thickness = 1, dash?: [number, number]): void {
    const n = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    const off = Math.floor((thickness - 1) / 2);
    for (let k = 0; k <= n; k++) {
      if (dash && k % (dash[0] + dash[1]) >= dash[0]) continue;
      const x = Math.round(x0 + ((x1 - x0) * k) / n) - off;
      const y = Math.round(y0 + ((y1 - y0) * k) / n) - off;
      for (let j = 0; j < thickness; j++) for (let i = 0; i < thickness; i++) this.set(x + i, y + j, c);
    }
  }

  /** A circle of radius `radius` (centre at x, y), its outline `thickness` pixels wide. */
  ring(x: number, y: number, radius: number, c: Rgb, thickness = 1): void {
    const inner = (radius - thickness) ** 2;
    for (let j = -radius; j <= radius; j++)
      for (let i = -radius; i <= radius; i++) {
        const d = i * i + j * j;
        if (d <= radius * radius && d > inner) this.set(x + i, y + j, c);
      }
  }

  /** Text with its top-left corner at (x, y). */
  text(x: number, y: number, s: string, c: Rgb, scale = FONT): void {
    for (let k = 0; k < s.length; k++) {
      const g = glyph(s[k]);
      const gx = x + k * ADVANCE * scale;
      for (let j = 0; j < GLYPH_H; j++)
        for (let i = 0; i < GLYPH_W; i++)
          if (g[j * GLYPH_W + i]) this.fillRect(gx + i * scale, y + j * scale, scale, scale, c);
    }
  }

  /** Text rotated 90 degrees counter-clockwise (reads bottom to top), its glyph tops facing left at x. */
  textUp(x: number, yBottom: number, s: string, c: Rgb, scale = FONT): void {
    for (let k = 0; k < s.length; k++) {
      const g = glyph(s[k]);
      const gy = yBottom - k * ADVANCE * scale;
      for (let j = 0; j < GLYPH_H; j++)
        for (let i = 0; i < GLYPH_W; i++)
          if (g[j * GLYPH_W + i]) this.fillRect(x + j * scale, gy - (i + 1) * scale, scale, scale, c);
    }
  }
}

/** "Nice" tick values (1, 2, 5 x 10^k steps) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  const first = Math.ceil(lo / step - 1e-9);
  for (let k = first; k * step <= hi + step * 1e-9; k++) ticks.push(Number((k * step).toPrecision(12)));
  return ticks;
}

function tickLabel(v: number, ticks: number[]): string {
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : Math.abs(v) || 1;
  if (Math.abs(v) >= 1e5 || (step < 1e-3 && v !== 0)) return v.toExponential(1).replace("e", "e");
  return v.toFixed(Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
}

/** Where a panel's data lands in the picture (exported so tests can find a point's pixel). */
export interface PanelGeometry {
  left: number;
  top: number;
  right: number;
  bottom: number;
  xMin: number;
  xMax: number;
  yMin: number;
  yMax: number;
  /** The legend box drawn over the plot (x, y, width, height), if any. */
  legend: [number, number, number, number] | null;
}

export function toPixel(g: PanelGeometry, x: number, y: number): [number, number] {
  const px = g.left + ((x - g.xMin) / (g.xMax - g.xMin || 1)) * (g.right - g.left);
  const py = g.bottom - ((y - g.yMin) / (g.yMax - g.yMin || 1)) * (g.bottom - g.top);
  return [Math.round(px), Math.round(py)];
}

/**
 * The epoch whose weights training keeps (src/train/trainer.ts): the first with the lowest validation
 * loss, or training loss for epochs without validation. Null for a history without a finite loss.
 */
export function bestEpoch(rows: readonly CurveRow[]): number | null {
  let best: { epoch: number; v: number } | null = null;
  for (const row of rows) {
    const v = Number.isNaN(row.val_loss) ? row.loss : row.val_loss;
    if (Number.isFinite(v) && (best === null || v < best.v)) best = { epoch: row.epoch, v };
  }
  return best?.epoch ?? null;
}

interface Series {
  key: keyof CurveRow & keyof typeof SERIES_COLORS;
  label: string;
}

function drawPanel(
  r: Raster,
  x0: number,
  width: number,
  title: string,
  yTitle: string,
  rows: readonly CurveRow[],
  series: Series[],
  yFixed: [number, number] | null,
): PanelGeometry {
  const pad = { left: 104, right: 36, top: 50, bottom: 70 };
  const epochs = rows.map((row) => row.epoch);
  const xLo = epochs.length ? Math.min(...epochs) : 0;
  const xHi = epochs.length ? Math.max(...epochs) : 1;
  const xTicks = niceTicks(xLo === xHi ? xLo - 1 : xLo, xLo === xHi ? xHi + 1 : xHi, 6).filter(
    Number.isInteger,
  );
  const values = series.flatMap((s) => rows.map((row) => row[s.key])).filter(Number.isFinite);
  let yLo = yFixed ? yFixed[0] : values.length ? Math.min(...values) : 0;
  let yHi = yFixed ? yFixed[1] : values.length ? Math.max(...values) : 1;
  if (yFixed) {
    yLo = Math.min(yLo, ...values);
    yHi = Math.max(yHi, ...values);
  }
  if (yHi - yLo < 1e-12) {
    yLo -= Math.abs(yLo) * 0.1 || 0.5;
    yHi += Math.abs(yHi) * 0.1 || 0.5;
  } else if (!yFixed) {
    const m = (yHi - yLo) * 0.05;
    yLo -= m;
    yHi += m;
  }
  const yTicks = niceTicks(yLo, yHi, 5);
  yLo = Math.min(yLo, yTicks[0]);
  yHi = Math.max(yHi, yTicks[yTicks.length - 1]);
  const g: PanelGeometry = {
    left: x0 + pad.left,
    top: pad.top,
    right: x0 + width - pad.right,
    bottom: r.height - pad.bottom,
    xMin: xTicks.length ? Math.min(xLo, xTicks[0]) : xLo - 1,
    xMax: xTicks.length ? Math.max(xHi, xTicks[xTicks.length - 1]) : xHi + 1,
    yMin: yLo,
    yMax: yHi,
    legend: null,
  };
  if (g.xMin === g.xMax) {
    g.xMin -= 1;
    g.xMax += 1;
  }
  const ch = GLYPH_ASCENT * FONT;

  // Grid and ticks.
  for (const t of yTicks) {
    const [, py] = toPixel(g, g.xMin, t);
    r.line(g.left, py, g.right, py, GRID);
    r.line(g.left - 6, py, g.left, py, BLACK);
    const label = tickLabel(t, yTicks);
    r.text(g.left - 10 - textWidth(label, FONT), py - ch / 2, label, BLACK);
  }
  for (const t of xTicks) {
    const [px] = toPixel(g, t, g.yMin);
    r.line(px, g.top, px, g.bottom, GRID);
    r.line(px, g.bottom, px, g.bottom + 6, BLACK);
    const label = String(t);
    r.text(px - textWidth(label, FONT) / 2, g.bottom + 12, label, BLACK);
  }
  // Learning-rate cuts.
  for (let i = 1; i < rows.length; i++) {
    if (rows[i].lr < rows[i - 1].lr) {
      const [px] = toPixel(g, rows[i].epoch, g.yMin);
      r.line(px, g.top, px, g.bottom, LR_MARK, 1, [4, 4]);
    }
  }
  // The best epoch: a dashed vertical, and a ring round the monitored loss in the loss panel (under the
  // series, so they stay on top).
  const best = bestEpoch(rows);
  const bestRow = rows.find((row) => row.epoch === best);
  if (bestRow) {
    const [px] = toPixel(g, bestRow.epoch, g.yMin);
    r.line(px, g.top, px, g.bottom, BEST_COLOR, 2, [6, 4]);
    const monitored = series.find((s) => s.key === (Number.isNaN(bestRow.val_loss) ? "loss" : "val_loss"));
    if (monitored) {
      const [bx, by] = toPixel(g, bestRow.epoch, bestRow[monitored.key]);
      r.ring(bx, by, 8, BEST_COLOR, 2);
    }
  }
  // Axes and labels.
  r.line(g.left, g.top, g.left, g.bottom, BLACK);
  r.line(g.left, g.bottom, g.right, g.bottom, BLACK);
  r.text(Math.round((g.left + g.right - textWidth("epoch", FONT)) / 2), g.bottom + 40, "epoch", BLACK);
  r.text(Math.round((g.left + g.right - textWidth(title, FONT)) / 2), 16, title, BLACK);
  r.textUp(x0 + 12, Math.round((g.top + g.bottom + textWidth(yTitle, FONT)) / 2), yTitle, BLACK);

  // Series: 2-px lines between consecutive finite points, a 5-px square on each point.
  const drawn = series.filter((s) => rows.some((row) => Number.isFinite(row[s.key])));
  for (const s of drawn) {
    const c = SERIES_COLORS[s.key];
    let prev: [number, number] | null = null;
    for (const row of rows) {
      const v = row[s.key];
      if (!Number.isFinite(v)) {
        prev = null;
        continue;
      }
      const p = toPixel(g, row.epoch, v);
      if (prev) r.line(prev[0], prev[1], p[0], p[1], c, 2);
      prev = p;
    }
    if (rows.length <= 60)
      for (const row of rows)
        if (Number.isFinite(row[s.key])) {
          const [px, py] = toPixel(g, row.epoch, row[s.key]);
          r.fillRect(px - 2, py - 2, 5, 5, c);
        }
  }

  // Legend box in the top-right corner of the plot.
  const legend: { label: string; c: Rgb; dash: [number, number] | null; width: number }[] = drawn.map(
    (s) => ({ label: s.label, c: SERIES_COLORS[s.key], dash: null, width: 3 }),
  );
  if (rows.some((row, i) => i > 0 && row.lr < rows[i - 1].lr))
    legend.push({ label: "lr cut", c: LR_MARK, dash: [4, 4], width: 1 });
  if (bestRow) legend.push({ label: `best: epoch ${bestRow.epoch}`, c: BEST_COLOR, dash: [6, 4], width: 2 });
  if (legend.length > 0) {
    const lineH = GLYPH_H * FONT + 4;
    const boxW = 40 + Math.max(...legend.map((l) => textWidth(l.label, FONT))) + 16;
    const boxH = legend.length * lineH + 8;
    // The corner whose box hides the fewest data points.
    const points = drawn.flatMap((s) =>
      rows.filter((row) => Number.isFinite(row[s.key])).map((row) => toPixel(g, row.epoch, row[s.key])),
    );
    const corners: [number, number][] = [
      [g.right - boxW - 8, g.top + 8],
      [g.right - boxW - 8, g.bottom - boxH - 8],
      [g.left + 8, g.top + 8],
      [g.left + 8, g.bottom - boxH - 8],
    ];
    const hidden = ([x, y]: [number, number]) =>
      points.filter(([px, py]) => px >= x - 4 && px <= x + boxW + 4 && py >= y - 4 && py <= y + boxH + 4)
        .length;
    const [bx, by] = corners.reduce((best, c) => (hidden(c) < hidden(best) ? c : best));
    g.legend = [bx, by, boxW, boxH];
    r.fillRect(bx, by, boxW, boxH, WHITE);
    r.line(bx, by, bx + boxW, by, BLACK);
    r.line(bx, by + boxH, bx + boxW, by + boxH, BLACK);
    r.line(bx, by, bx, by + boxH, BLACK);
    r.line(bx + boxW, by, bx + boxW, by + boxH, BLACK);
    legend.forEach((l, k) => {
      const y = by + 8 + k * lineH;
      r.line(bx + 8, y + ch / 2, bx + 34, y + ch / 2, l.c, l.width, l.dash ?? undefined);
      r.text(bx + 42, y, l.label, BLACK);
    });
  }
  return g;
}

export interface CurvesPicture {
  width: number;
  height: number;
  rgb: Uint8Array;
  loss: PanelGeometry;
  dice: PanelGeometry;
}

/** Draws the learning curves of the history rows (any number, including none). */
export function renderCurves(rows: readonly CurveRow[]): CurvesPicture {
  const r = new Raster(CURVES_WIDTH, CURVES_HEIGHT);
  const half = CURVES_WIDTH / 2;
  const loss = drawPanel(
    r,
    0,
    half,
    "Loss",
    "loss",
    rows,
    [
      { key: "loss", label: "loss" },
      { key: "val_loss", label: "val_loss" },
    ],
    null,
  );
  const dice = drawPanel(
    r,
    half,
    half,
    "Dice and Kaggle score",
    "Dice, score",
    rows,
    [
      { key: "dice", label: "dice" },
      { key: "val_dice", label: "val_dice" },
      { key: "val_score", label: "val_score" },
    ],
    [0, 1],
  );
  return { width: r.width, height: r.height, rgb: r.rgb, loss, dice };
}

/** Writes the learning curves as a PNG, atomically. */
export function writeCurvesPng(file: string, rows: readonly CurveRow[]): void {
  const pic = renderCurves(rows);
  writeFileAtomic(file, encodePng(pic.rgb, pic.width, pic.height));
}
