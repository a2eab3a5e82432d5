import fs from "node:fs";
import path from "node:path";
import { fileError } from "../core/errors.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../io/image.js";
import { writePng } from "../io/png.js";
import { overlayRgb, PRED_COLOR, TRUTH_COLOR, type Rgb } from "./overlay.js";
import { decodeRle } from "../io/rle.js";
import { readTiff } from "../io/tiff.js";
import type { MaskSet } from "../io/mask-set.js";
import type { ImageScore, Score } from "../metric/evaluate.js";
import { ADVANCE, GLYPH_ASCENT, GLYPH_H, textWidth } from "./bitmap-font.js";
import { Raster } from "./curves.js";

/** What the legend strip under a review overlay says (nulls and absent fields are left out). */
export interface OverlayCaption {
  id?: string;
  /** Whether the picture shows a truth contour / a prediction contour (each gets a swatch). */
  truth: boolean;
  pred: boolean;
  truthArea?: number | null;
  predArea?: number | null;
  dice?: number | null;
}

const STRIP_BG: Rgb = [24, 24, 24];
const STRIP_TEXT: Rgb = [240, 240, 240];

/**
 * The picture (packed RGB) with a legend strip under it: a swatch and label per contour ("truth 7194 px"
 * in the truth colour's swatch, "prediction ..." in the prediction's), the Dice and the id, wrapped onto
 * more lines when the picture is narrow. The picture itself is left as it is (nothing drawn over it).
 */
export function withCaption(
  rgb: Uint8Array,
  width: number,
  height: number,
  caption: OverlayCaption,
): { rgb: Uint8Array; width: number; height: number } {
  const scale = width >= 400 ? 2 : 1;
  const pad = 4 * scale;
  const swatchW = 3 * ADVANCE * scale;
  const gap = 2 * ADVANCE * scale;
  const area = (a: number | null | undefined): string => (a === null || a === undefined ? "" : ` ${a} px`);
  const items: { text: string; swatch: Rgb | null }[] = [];
  if (caption.truth) items.push({ text: `truth${area(caption.truthArea)}`, swatch: TRUTH_COLOR });
  if (caption.pred) items.push({ text: `prediction${area(caption.predArea)}`, swatch: PRED_COLOR });
  if (caption.dice !== null && caption.dice !== undefined)
    items.push({ text: `Dice ${caption.dice.toFixed(3)}`, swatch: null });
  if (caption.id) items.push({ text: caption.id, swatch: null });
  // Lay the items out left to right, starting a new line where the next one would not fit.
  const lineH = (GLYPH_H + 2) * scale;
  const placed: { x: number; line: number; item: (typeof items)[number] }[] = [];
  let x = pad;
  let line = 0;
  for (const item of items) {
    const w = (item.swatch ? swatchW + ADVANCE * scale : 0) + textWidth(item.text, scale);
    if (x > pad && x + w > width - pad) {
      line++;
      x = pad;
    }
    placed.push({ x, line, item });
    x += w + gap;
  }
  const stripH = (line + 1) * lineH + 2 * pad - 2 * scale;
  const strip = new Raster(width, stripH, STRIP_BG);
  for (const { x: px, line: l, item } of placed) {
    const y = pad + l * lineH;
    let tx = px;
    if (item.swatch) {
      const mid = y + Math.floor((GLYPH_ASCENT * scale) / 2);
      strip.fillRect(px, mid - scale, swatchW, 2 * scale, item.swatch);
      tx += swatchW + ADVANCE * scale;
    }
    strip.text(tx, y, item.text, STRIP_TEXT, scale);
  }
  const out = new Uint8Array(width * (height + stripH) * 3);
  out.set(rgb.subarray(0, width * height * 3));
  out.set(strip.rgb, width * height * 3);
  return { rgb: out, width, height: height + stripH };
}

/**
 * Pictures of the frames a model gets most wrong: the `count` lowest-Dice images of `score`, each as
 * `<id>-dice<d>.png`: the truth contour in blue, the prediction in orange (see overlayRgb), and a legend
 * strip under the frame with both areas, the Dice and the id. Returns the frames drawn.
 */
export function writeWorstOverlays(
  imagesDir: string,
  truth: MaskSet,
  pred: MaskSet,
  score: Score,
  count: number,
  outDir: string,
): ImageScore[] {
  const worst = [...score.perImage].sort((a, b) => a.dice - b.dice).slice(0, count);
  fs.mkdirSync(outDir, { recursive: true });
  for (const w of worst) {
    const file = path.join(imagesDir, `${w.id}.tif`);
    if (!fs.existsSync(file))
      throw fileError(file, `missing: image ${w.id} is scored but not in ${imagesDir}`);
    const img = readTiff(file);
    const t = decodeRle(truth.masks.get(w.id) ?? "", KAGGLE_WIDTH, KAGGLE_HEIGHT);
    const p = decodeRle(pred.masks.get(w.id) ?? "", KAGGLE_WIDTH, KAGGLE_HEIGHT);
    const pic = withCaption(overlayRgb(img, t, p), img.width, img.height, {
      id: w.id,
      truth: true,
      pred: true,
      truthArea: w.truthArea,
      predArea: w.predArea,
      dice: w.dice,
    });
    writePng(path.join(outDir, `${w.id}-dice${w.dice.toFixed(2)}.png`), pic.rgb, pic.width, pic.height);
  }
  return worst;
}
