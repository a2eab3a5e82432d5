import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../io/image.js";

/*
 * Training augmentation, identical for an image and its mask: flips, a rotation and a zoom about the image
 * centre, a translation and an optional elastic deformation (Simard et al. 2003), all folded into ONE
 * inverse-mapped warp: every output pixel p is read from the source at
 *     src(p) = Flip( R(-angle) * (p + d(p) - t - c) / zoom + c ),   c = the image centre, d = elastic field,
 * bilinearly (image) or bilinearly then thresholded at 0.5 (mask, so it stays exactly aligned with the
 * image and stays binary). Pixel centres sit at integer coordinates, so flips and whole-pixel translations
 * move pixels exactly.
 *
 * Border: "reflect" (default; mirror about the edge pixel, OpenCV BORDER_REFLECT_101) keeps the speckle
 * texture going instead of drawing black wedges the network could learn as a cue; "constant" reads 0.
 *
 * Magnitudes (translation, elastic alpha and sigma) are in full-resolution 580x420 pixels and scaled to
 * the working resolution (x by width/580, y by height/420), so a preset means the same at any size.
 */

export interface ElasticOptions {
  /** Displacement scale (full-resolution pixels) applied to the smoothed uniform(-1, 1) field. */
  alpha: number;
  /** Gaussian smoothing of the field (full-resolution pixels). */
  sigma: number;
}

export interface AugmentOptions {
  /** Probability of a horizontal flip. */
  flipH: number;
  /** Probability of a vertical flip. */
  flipV: number;
  /** Rotation drawn uniformly in [-rotateDeg, rotateDeg] degrees. */
  rotateDeg: number;
  /** Translation drawn uniformly in [-translatePx, translatePx] full-resolution pixels, per axis. */
  translatePx: number;
  /**
   * Zoom drawn log-uniformly in [1 / (1 + scale), 1 + scale] (0 or absent: none). Nerves and nodules
   * differ in size between subjects and probe depths; nnU-Net draws 0.7..1.4.
   */
  scale?: number;
  elastic: ElasticOptions | null;
  border: "reflect" | "constant";
  /** Grey-level jitter after the warp (see TrainConfig.augment.intensity); null = none. */
  intensity?: IntensityOptions | null;
}

export interface IntensityOptions {
  brightness: number;
  contrast: number;
  gamma: number;
}

/**
 * Brightness, contrast and gamma jitter of one frame in place (grey values 0..255). Consumes exactly 3
 * random numbers, so a resumed run replays the same stream.
 */
export function jitterIntensity(rng: () => number, o: IntensityOptions, img: Float32Array): void {
  const b = (2 * rng() - 1) * o.brightness * 255;
  const c = 1 + (2 * rng() - 1) * o.contrast;
  const g = Math.exp((2 * rng() - 1) * o.gamma);
  let mean = 0;
  for (let i = 0; i < img.length; i++) mean += img[i];
  mean /= img.length;
  for (let i = 0; i < img.length; i++) {
    const v = Math.min(255, Math.max(0, (img[i] - mean) * c + mean + b));
    img[i] = 255 * Math.pow(v / 255, g);
  }
}

export const DEFAULT_AUGMENT: AugmentOptions = {
  flipH: 0.5,
  flipV: 0.5,
  rotateDeg: 10,
  translatePx: 20,
  elastic: null,
  border: "reflect",
};

/** One sample's transform, at the working resolution. */
export interface AugmentParams {
  flipH: boolean;
  flipV: boolean;
  /** Radians. */
  angle: number;
  /** Working-resolution pixels. */
  tx: number;
  ty: number;
  /** Magnification about the centre (1 = none; 2 shows the middle half at twice the size). */
  zoom?: number;
  /** Elastic displacement per output pixel (working pixels, row-major HxW), or null. */
  dx: Float32Array | null;
  dy: Float32Array | null;
}

export const IDENTITY: AugmentParams = {
  flipH: false,
  flipV: false,
  angle: 0,
  tx: 0,
  ty: 0,
  dx: null,
  dy: null,
};

/** The threshold that turns a warped mask back into 0/1 (a pixel is on when the sample is >= 0.5). */
export const MASK_THRESHOLD = 0.5;

/**
 * Draws one sample's parameters. Always consumes exactly 5 random numbers, one more for the zoom when
 * `scale` is on (after them, so the streams of runs without it are unchanged) and 2*width*height for the
 * elastic fields when enabled, so a resumed run replays the same stream.
 */
export function sampleAugment(
  rng: () => number,
  opts: AugmentOptions,
  width: number,
  height: number,
): AugmentParams {
  const sx = width / KAGGLE_WIDTH;
  const sy = height / KAGGLE_HEIGHT;
  const flipH = rng() < opts.flipH;
  const flipV = rng() < opts.flipV;
  const angle = ((2 * rng() - 1) * opts.rotateDeg * Math.PI) / 180;
  // Multiply before dividing so whole working pixels stay exact (20 * 58 / 580 = 2).
  const tx = ((2 * rng() - 1) * opts.translatePx * width) / KAGGLE_WIDTH;
  const ty = ((2 * rng() - 1) * opts.translatePx * height) / KAGGLE_HEIGHT;
  const scale = opts.scale ?? 0;
  const zoom = scale > 0 ? Math.exp((2 * rng() - 1) * Math.log1p(scale)) : 1;
  let dx: Float32Array | null = null;
  let dy: Float32Array | null = null;
  if (opts.elastic && opts.elastic.alpha > 0) {
    const sigma = (opts.elastic.sigma * (sx + sy)) / 2;
    dx = elasticField(rng, width, height, sigma, opts.elastic.alpha * sx);
    dy = elasticField(rng, width, height, sigma, opts.elastic.alpha * sy);
  }
  return { flipH, flipV, angle, tx, ty, zoom, dx, dy };
}

/** Reflect-101 index into [0, n). */
function reflect(i: number, n: number): number {
  if (i >= 0 && i < n) return i;
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  i %= period;
  if (i < 0) i += period;
  return i >= n ? period - i : i;
}

function gaussianKernel(sigma: number): Float32Array {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) sum += k[i + r] = Math.exp((-i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  return k;
}

/** alpha * (Gaussian(sigma) * uniform(-1, 1) noise), separable blur with reflected borders. */
function elasticField(rng: () => number, w: number, h: number, sigma: number, alpha: number): Float32Array {
  const noise = new Float32Array(w * h);
  for (let i = 0; i < noise.length; i++) noise[i] = 2 * rng() - 1;
  if (!(sigma > 0)) {
    for (let i = 0; i < noise.length; i++) noise[i] *= alpha;
    return noise;
  }
  const k = gaussianKernel(sigma);
  const r = (k.length - 1) / 2;
  // Each row / column is copied into a reflect-padded line so the inner loop has no border tests.
  const line = new Float32Array(Math.max(w, h) + 2 * r);
  const tmp = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let j = -r; j < w + r; j++) line[j + r] = noise[y * w + reflect(j, w)];
    for (let x = 0; x < w; x++) {
      let acc = 0;
      for (let t = 0; t < k.length; t++) acc += k[t] * line[x + t];
      tmp[y * w + x] = acc;
    }
  }
  for (let x = 0; x < w; x++) {
    for (let j = -r; j < h + r; j++) line[j + r] = tmp[reflect(j, h) * w + x];
    for (let y = 0; y < h; y++) {
      let acc = 0;
      for (let t = 0; t < k.length; t++) acc += k[t] * line[y + t];
      noise[y * w + x] = alpha * acc;
    }
  }
  return noise;
}

/** Bilinear read at (sx, sy) with the border rule, for samples whose 2x2 neighbourhood leaves the image. */
function sampleBorder(
  src: Float32Array,
  w: number,
  h: number,
  sx: number,
  sy: number,
  reflectBorder: boolean,
): number {
  const x0 = Math.floor(sx);
  const y0 = Math.floor(sy);
  const fx = sx - x0;
  const fy = sy - y0;
  let v00: number, v01: number, v10: number, v11: number;
  if (reflectBorder) {
    const xa = reflect(x0, w);
    const xb = reflect(x0 + 1, w);
    const ra = reflect(y0, h) * w;
    const rb = reflect(y0 + 1, h) * w;
    v00 = src[ra + xa];
    v01 = src[ra + xb];
    v10 = src[rb + xa];
    v11 = src[rb + xb];
  } else {
    const inA = y0 >= 0 && y0 < h;
    const inB = y0 + 1 >= 0 && y0 + 1 < h;
    const inXa = x0 >= 0 && x0 < w;
    const inXb = x0 + 1 >= 0 && x0 + 1 < w;
    v00 = inA && inXa ? src[y0 * w + x0] : 0;
    v01 = inA && inXb ? src[y0 * w + x0 + 1] : 0;
    v10 = inB && inXa ? src[(y0 + 1) * w + x0] : 0;
    v11 = inB && inXb ? src[(y0 + 1) * w + x0 + 1] : 0;
  }
  const top = v00 + (v01 - v00) * fx;
  const bot = v10 + (v11 - v10) * fx;
  return top + (bot - top) * fy;
}

/**
 * Applies `p` to an HxW image (bilinear) and, when given, its mask (bilinear, then >= 0.5 -> 1 else 0),
 * writing into the output arrays (which must not alias the inputs).
 */
export function warpPair(
  p: AugmentParams,
  width: number,
  height: number,
  image: Float32Array,
  outImage: Float32Array,
  mask: Float32Array | null = null,
  outMask: Float32Array | null = null,
  border: "reflect" | "constant" = "reflect",
): void {
  const n = width * height;
  if (
    image.length < n ||
    outImage.length < n ||
    (mask && (mask.length < n || !outMask || outMask.length < n))
  ) {
    throw new Error(`warpPair: arrays smaller than ${width}x${height}`);
  }
  // src = M * [x + dx, y + dy, 1]: rotation by -angle and the zoom about the centre after removing the
  // translation, then the flips, all in one 2x3 matrix.
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const zoom = p.zoom ?? 1;
  const cos = Math.cos(p.angle) / zoom;
  const sin = Math.sin(p.angle) / zoom;
  let m00 = cos;
  let m01 = sin;
  let m02 = -cos * (p.tx + cx) - sin * (p.ty + cy) + cx;
  let m10 = -sin;
  let m11 = cos;
  let m12 = sin * (p.tx + cx) - cos * (p.ty + cy) + cy;
  if (p.flipH) {
    m00 = -m00;
    m01 = -m01;
    m02 = width - 1 - m02;
  }
  if (p.flipV) {
    m10 = -m10;
    m11 = -m11;
    m12 = height - 1 - m12;
  }
  const refl = border === "reflect";
  const dxs = p.dx;
  const dys = p.dy;
  const elastic = dxs !== null && dys !== null;
  const xMax = width - 1;
  const yMax = height - 1;
  for (let y = 0; y < height; y++) {
    // Without elastic fields the source moves by (m00, m10) per output pixel along a row.
    let sx = m01 * y + m02;
    let sy = m11 * y + m12;
    for (let x = 0; x < width; x++, sx += m00, sy += m10) {
      const i = y * width + x;
      let qx = sx;
      let qy = sy;
      if (elastic) {
        qx = m00 * (x + dxs[i]) + m01 * (y + dys[i]) + m02;
        qy = m10 * (x + dxs[i]) + m11 * (y + dys[i]) + m12;
      }
      // Truncation is floor here: the fast path needs non-negative coordinates anyway.
      const x0 = qx | 0;
      const y0 = qy | 0;
      if (qx >= 0 && qy >= 0 && x0 < xMax && y0 < yMax) {
        const fx = qx - x0;
        const fy = qy - y0;
        const j = y0 * width + x0;
        let a = image[j];
        let top = a + (image[j + 1] - a) * fx;
        a = image[j + width];
        let bot = a + (image[j + width + 1] - a) * fx;
        outImage[i] = top + (bot - top) * fy;
        if (mask !== null) {
          a = mask[j];
          top = a + (mask[j + 1] - a) * fx;
          a = mask[j + width];
          bot = a + (mask[j + width + 1] - a) * fx;
          outMask![i] = top + (bot - top) * fy >= MASK_THRESHOLD ? 1 : 0;
        }
      } else {
        outImage[i] = sampleBorder(image, width, height, qx, qy, refl);
        if (mask !== null)
          outMask![i] = sampleBorder(mask, width, height, qx, qy, refl) >= MASK_THRESHOLD ? 1 : 0;
      }
    }
  }
}

/**
 * Augments `count` HxW images (and masks, 0/1) stored back to back, drawing each sample's parameters from
 * `rng` in order, into preallocated outputs of the same layout.
 */
export function augmentBatch(
  rng: () => number,
  opts: AugmentOptions,
  count: number,
  width: number,
  height: number,
  images: Float32Array,
  masks: Float32Array | null,
  outImages: Float32Array,
  outMasks: Float32Array | null,
): void {
  const n = width * height;
  if (images.length < count * n || outImages.length < count * n) {
    throw new Error(`augmentBatch: image arrays hold fewer than ${count} images of ${width}x${height}`);
  }
  if (masks && (!outMasks || masks.length < count * n || outMasks.length < count * n)) {
    throw new Error(`augmentBatch: mask arrays hold fewer than ${count} masks of ${width}x${height}`);
  }
  for (let b = 0; b < count; b++) {
    const p = sampleAugment(rng, opts, width, height);
    const o = b * n;
    warpPair(
      p,
      width,
      height,
      images.subarray(o, o + n),
      outImages.subarray(o, o + n),
      masks ? masks.subarray(o, o + n) : null,
      masks ? outMasks!.subarray(o, o + n) : null,
      opts.border,
    );
    if (opts.intensity) jitterIntensity(rng, opts.intensity, outImages.subarray(o, o + n));
  }
}
