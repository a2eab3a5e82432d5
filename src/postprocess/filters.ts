/**
 * Full-resolution filters for post-processing: box and Gaussian blur by running sums (cost independent of
 * the kernel size, so the reference's 51x51 blur is as cheap as a 3x3), binary opening/closing, and the
 * largest connected component. Borders replicate the edge pixel.
 */

/** One separable box pass of odd `size` over a width x height float image, `src` → `dst` (may not alias). */
function boxPass(src: Float32Array, dst: Float32Array, width: number, height: number, size: number): void {
  const r = (size - 1) >> 1;
  const inv = 1 / size;
  const tmp = new Float32Array(width * height);
  // Horizontal: running sum along each row.
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let sum = src[row] * (r + 1);
    for (let j = 1; j <= r; j++) sum += src[row + (j < width ? j : width - 1)];
    for (let x = 0; x < width; x++) {
      tmp[row + x] = sum * inv;
      const add = x + r + 1;
      const sub = x - r;
      sum += src[row + (add < width ? add : width - 1)] - src[row + (sub > 0 ? sub : 0)];
    }
  }
  // Vertical: a running sum of whole rows, so memory is read row by row (cache friendly).
  const acc = new Float64Array(width);
  for (let x = 0; x < width; x++) acc[x] = tmp[x] * (r + 1);
  for (let j = 1; j <= r; j++) {
    const row = (j < height ? j : height - 1) * width;
    for (let x = 0; x < width; x++) acc[x] += tmp[row + x];
  }
  for (let y = 0; y < height; y++) {
    const out = y * width;
    for (let x = 0; x < width; x++) dst[out + x] = acc[x] * inv;
    const add = (y + r + 1 < height ? y + r + 1 : height - 1) * width;
    const sub = (y - r > 0 ? y - r : 0) * width;
    for (let x = 0; x < width; x++) acc[x] += tmp[add + x] - tmp[sub + x];
  }
}

/** Box blur with an odd square kernel, in place. */
export function boxBlur(img: Float32Array, width: number, height: number, size: number): void {
  checkOdd(size);
  if (size > 1) boxPass(img, img, width, height, size);
}

/** OpenCV's sigma for a Gaussian kernel of `size` when none is given (GaussianBlur(..., (k,k), 0)). */
export function gaussianSigmaForSize(size: number): number {
  return 0.3 * ((size - 1) * 0.5 - 1) + 0.8;
}

/** Three odd box widths whose repeated application approximates a Gaussian of `sigma` (central limit). */
export function boxesForGaussian(sigma: number): number[] {
  const n = 3;
  const ideal = Math.sqrt((12 * sigma * sigma) / n + 1);
  let wl = Math.floor(ideal);
  if (wl % 2 === 0) wl--;
  if (wl < 1) wl = 1;
  const wu = wl + 2;
  const m = Math.round((12 * sigma * sigma - n * wl * wl - 4 * n * wl - 3 * n) / (-4 * wl - 4));
  return Array.from({ length: n }, (_, i) => (i < m ? wl : wu));
}

/** Gaussian blur approximated by three box passes, sigma from the kernel size as OpenCV does; in place. */
export function gaussianBlur(img: Float32Array, width: number, height: number, size: number): void {
  checkOdd(size);
  if (size <= 1) return;
  for (const w of boxesForGaussian(gaussianSigmaForSize(size)))
    if (w > 1) boxPass(img, img, width, height, w);
}

function checkOdd(size: number): void {
  if (!Number.isInteger(size) || size < 1 || size % 2 === 0)
    throw new Error(`kernel size ${size} is not odd`);
}

/**
 * One separable pass of binary erosion (all of the window on) or dilation (any on) with a square odd
 * kernel, by a running count of on pixels. Masks are 0/1. Outside the image counts as on for erosion and
 * off for dilation (as OpenCV does), so neither eats into nor grows from the border.
 */
function morphPass(
  mask: Uint8Array,
  width: number,
  height: number,
  size: number,
  erode: boolean,
): Uint8Array {
  const r = (size - 1) >> 1;
  const outside = erode ? 1 : 0;
  const on = (c: number): number => (erode ? (c === size ? 1 : 0) : c > 0 ? 1 : 0);
  const tmp = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const at = (x: number): number => (x < 0 || x >= width ? outside : mask[row + x]);
    let c = 0;
    for (let j = -r; j <= r; j++) c += at(j);
    for (let x = 0; x < width; x++) {
      tmp[row + x] = on(c);
      c += at(x + r + 1) - at(x - r);
    }
  }
  const out = new Uint8Array(width * height);
  const acc = new Int32Array(width);
  const addRow = (y: number, sign: number): void => {
    if (y < 0 || y >= height) {
      if (outside) for (let x = 0; x < width; x++) acc[x] += sign;
      return;
    }
    const row = y * width;
    for (let x = 0; x < width; x++) acc[x] += sign * tmp[row + x];
  };
  for (let j = -r; j <= r; j++) addRow(j, 1);
  for (let y = 0; y < height; y++) {
    const o = y * width;
    for (let x = 0; x < width; x++) out[o + x] = on(acc[x]);
    addRow(y + r + 1, 1);
    addRow(y - r, -1);
  }
  return out;
}

/** Binary erosion with a size x size square (0/1 mask). */
export function erode(mask: Uint8Array, width: number, height: number, size: number): Uint8Array {
  checkOdd(size);
  return morphPass(mask, width, height, size, true);
}

/** Binary dilation with a size x size square. */
export function dilate(mask: Uint8Array, width: number, height: number, size: number): Uint8Array {
  checkOdd(size);
  return morphPass(mask, width, height, size, false);
}

/** Opening (erode then dilate): removes specks narrower than the kernel. */
export function open(mask: Uint8Array, width: number, height: number, size: number): Uint8Array {
  return dilate(erode(mask, width, height, size), width, height, size);
}

/** Closing (dilate then erode): fills holes and gaps narrower than the kernel. */
export function close(mask: Uint8Array, width: number, height: number, size: number): Uint8Array {
  return erode(dilate(mask, width, height, size), width, height, size);
}

/**
 * Keeps only the largest 8-connected component of a 0/1 mask, in place; returns its area (0 for an empty
 * mask). Ties keep the component found first in row-major order.
 */
export function keepLargestComponent(mask: Uint8Array, width: number, height: number): number {
  const n = width * height;
  const label = new Int32Array(n);
  const stack = new Int32Array(n);
  let next = 0;
  let best = 0;
  let bestArea = 0;
  for (let start = 0; start < n; start++) {
    if (mask[start] === 0 || label[start] !== 0) continue;
    const id = ++next;
    let top = 0;
    let area = 0;
    stack[top++] = start;
    label[start] = id;
    while (top > 0) {
      const p = stack[--top];
      area++;
      const y = (p / width) | 0;
      const x = p - y * width;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width) continue;
          const q = yy * width + xx;
          if (mask[q] !== 0 && label[q] === 0) {
            label[q] = id;
            stack[top++] = q;
          }
        }
      }
    }
    if (area > bestArea) {
      bestArea = area;
      best = id;
    }
  }
  if (next > 1) for (let i = 0; i < n; i++) if (mask[i] !== 0 && label[i] !== best) mask[i] = 0;
  return bestArea;
}
