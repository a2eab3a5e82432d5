/**
 * The pictures the viewer serves: the grey frame, contour overlays (truth blue just outside its mask,
 * prediction orange just inside its own: io/png.ts's colour-blind-safe pair, 2 px) and the probability
 * heat-map, as packed RGB at full or half size.
 */
import { resizeArea, resizeBilinear } from "../data/resize.js";
import type { GreyImage } from "../io/image.js";
import { CONTOUR_WIDTH, drawContour, greyToRgb, PRED_COLOR, TRUTH_COLOR } from "../report/overlay.js";

const WHITE = [255, 255, 255] as const;

export const LAYERS = ["image", "overlay", "heat"] as const;
export type Layer = (typeof LAYERS)[number];

/** Colour stops for the heat-map (blue → cyan → green → yellow → red), probability 0..1 in 5 steps. */
const STOPS: [number, number, number][] = [
  [0, 0, 160],
  [0, 160, 255],
  [0, 230, 100],
  [255, 230, 0],
  [255, 0, 0],
];

/** 256-entry RGB lookup for probability byte 0..255. */
export const HEAT_LUT: Uint8Array = (() => {
  const lut = new Uint8Array(256 * 3);
  for (let v = 0; v < 256; v++) {
    const s = (v / 255) * (STOPS.length - 1);
    const k = Math.min(Math.floor(s), STOPS.length - 2);
    const f = s - k;
    for (let c = 0; c < 3; c++)
      lut[v * 3 + c] = Math.round(STOPS[k][c] + (STOPS[k + 1][c] - STOPS[k][c]) * f);
  }
  return lut;
})();

/**
 * Blends the heat colour over the grey picture with opacity growing with the probability, so confident
 * regions stand out and p = 0 leaves the frame as it is. `prob` is 0..1 per pixel, same size as `rgb`.
 */
export function blendHeat(rgb: Uint8Array, prob: Float32Array): void {
  for (let i = 0; i < prob.length; i++) {
    const p = prob[i] <= 0 ? 0 : prob[i] >= 1 ? 1 : prob[i];
    const v = Math.round(p * 255);
    const a = 0.7 * Math.min(1, p * 3);
    for (let c = 0; c < 3; c++) {
      const j = i * 3 + c;
      rgb[j] = Math.round(rgb[j] * (1 - a) + HEAT_LUT[v * 3 + c] * a);
    }
  }
}

export interface LayerInput {
  image: GreyImage;
  /** 0/nonzero masks at the image's size, when known. */
  truth?: Uint8Array | null;
  pred?: Uint8Array | null;
  /** Full-size probability (0..1), for the heat layer. */
  prob?: Float32Array | null;
}

/** Halves a 0/nonzero mask (bilinear on 0/255, then ≥ 128), keeping thin shapes roughly as they are. */
function halveMask(mask: Uint8Array, w: number, h: number, dw: number, dh: number): Uint8Array {
  const m = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) m[i] = mask[i] !== 0 ? 255 : 0;
  const small = resizeBilinear(m, w, h, dw, dh);
  for (let i = 0; i < small.length; i++) small[i] = small[i] >= 128 ? 1 : 0;
  return small;
}

/** Renders one layer; `half` gives a half-size picture (the thumbnails). Returns RGB and its size. */
export function renderLayer(
  layer: Layer,
  input: LayerInput,
  half: boolean,
): { rgb: Uint8Array; width: number; height: number } {
  let { image, truth, pred, prob } = input;
  const { width: w, height: h } = image;
  if (half) {
    const dw = Math.max(1, Math.round(w / 2));
    const dh = Math.max(1, Math.round(h / 2));
    image = { width: dw, height: dh, data: resizeArea(image.data, w, h, dw, dh) };
    if (truth) truth = halveMask(truth, w, h, dw, dh);
    if (pred) pred = halveMask(pred, w, h, dw, dh);
    if (prob) prob = resizeArea(prob, w, h, dw, dh);
  }
  const rgb = greyToRgb(image);
  if (layer === "heat" && prob) blendHeat(rgb, prob);
  if (layer !== "image") {
    const { width: dw, height: dh } = image;
    if (truth) drawContour(rgb, truth, dw, dh, TRUTH_COLOR, CONTOUR_WIDTH, "outer");
    // Orange would vanish into the heat-map's yellow-red core, so the prediction is outlined in white there.
    if (pred) drawContour(rgb, pred, dw, dh, layer === "heat" ? WHITE : PRED_COLOR, CONTOUR_WIDTH, "inner");
  }
  return { rgb, width: image.width, height: image.height };
}
