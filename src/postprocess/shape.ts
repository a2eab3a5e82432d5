/*
 * Shape priors for one-blob masks (a nerve, a nodule): fill the holes, or replace the mask by its convex
 * hull or by its moment ellipse. Each takes a 0/1 row-major mask and returns a new one. Written by hand:
 * a few loops, and no image library offers them on raw masks.
 */

/** Fills every background region that does not touch the frame's border (4-connected background). */
export function fillHoles(mask: Uint8Array, width: number, height: number): Uint8Array {
  const n = width * height;
  const outside = new Uint8Array(n);
  const stack = new Int32Array(n);
  let top = 0;
  const seed = (p: number): void => {
    if (mask[p] === 0 && outside[p] === 0) {
      outside[p] = 1;
      stack[top++] = p;
    }
  };
  for (let x = 0; x < width; x++) {
    seed(x);
    seed((height - 1) * width + x);
  }
  for (let y = 0; y < height; y++) {
    seed(y * width);
    seed(y * width + width - 1);
  }
  while (top > 0) {
    const p = stack[--top];
    const y = (p / width) | 0;
    const x = p - y * width;
    if (x > 0) seed(p - 1);
    if (x < width - 1) seed(p + 1);
    if (y > 0) seed(p - width);
    if (y < height - 1) seed(p + width);
  }
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = outside[i] === 0 ? 1 : 0;
  return out;
}

/**
 * The convex hull of the on pixels' centres, rasterised: a pixel is on when its centre lies inside the hull
 * or on its edge, so every pixel of the input stays on. (Andrew's monotone chain over each row's leftmost
 * and rightmost pixel, the only ones that can be hull vertices.)
 */
export function convexHullFill(mask: Uint8Array, width: number, height: number): Uint8Array {
  const pts: [number, number][] = [];
  for (let y = 0; y < height; y++) {
    let lo = -1;
    let hi = -1;
    for (let x = 0; x < width; x++)
      if (mask[y * width + x] !== 0) {
        if (lo < 0) lo = x;
        hi = x;
      }
    if (lo >= 0) {
      pts.push([lo, y]);
      if (hi !== lo) pts.push([hi, y]);
    }
  }
  const out = new Uint8Array(width * height);
  if (pts.length === 0) return out;
  pts.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const cross = (o: number[], a: number[], b: number[]): number =>
    (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const chain = (list: [number, number][]): [number, number][] => {
    const h: [number, number][] = [];
    for (const p of list) {
      while (h.length >= 2 && cross(h[h.length - 2], h[h.length - 1], p) <= 0) h.pop();
      h.push(p);
    }
    h.pop();
    return h;
  };
  const hull = [...chain(pts), ...chain([...pts].reverse())];
  if (hull.length < 3) {
    // A point or a segment: the pixels whose centres lie on it (g + 1 lattice points for gcd g).
    const [a, b] = [pts[0], pts[pts.length - 1]];
    const [dx, dy] = [b[0] - a[0], b[1] - a[1]];
    const gcd = (p: number, q: number): number => (q === 0 ? p : gcd(q, p % q));
    const g = gcd(Math.abs(dx), Math.abs(dy));
    for (let k = 0; k <= g; k++) out[(a[1] + (k * dy) / (g || 1)) * width + a[0] + (k * dx) / (g || 1)] = 1;
    return out;
  }
  // Counter-clockwise hull (in x-right, y-down coordinates the sign flips; cross >= 0 or <= 0 throughout).
  const inside = (x: number, y: number): boolean => {
    let pos = false;
    let neg = false;
    for (let i = 0; i < hull.length; i++) {
      const c = cross(hull[i], hull[(i + 1) % hull.length], [x, y]);
      if (c > 0) pos = true;
      else if (c < 0) neg = true;
      if (pos && neg) return false;
    }
    return true;
  };
  let y0 = height;
  let y1 = -1;
  let x0 = width;
  let x1 = -1;
  for (const [x, y] of hull) {
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
  }
  for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) if (inside(x, y)) out[y * width + x] = 1;
  return out;
}

/**
 * An ellipse with the mask's centre, orientation and aspect (from its second moments) and the mask's area:
 * a smooth one-blob shape that forgets ragged edges without growing or shrinking the prediction. (A filled
 * ellipse's covariance is a²/4 along each axis, so for an elliptic mask this is (p - μ)ᵀ Σ⁻¹ (p - μ) ≤ 4.)
 */
export function momentEllipse(mask: Uint8Array, width: number, height: number): Uint8Array {
  let n = 0;
  let sx = 0;
  let sy = 0;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      if (mask[y * width + x] !== 0) {
        n++;
        sx += x;
        sy += y;
      }
  const out = new Uint8Array(width * height);
  if (n === 0) return out;
  const mx = sx / n;
  const my = sy / n;
  // A pixel is a unit square: its own variance (1/12 per axis) keeps one-pixel-wide masks from degenerating.
  let cxx = 1 / 12;
  let cyy = 1 / 12;
  let cxy = 0;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      if (mask[y * width + x] !== 0) {
        cxx += (x - mx) ** 2 / n;
        cyy += (y - my) ** 2 / n;
        cxy += ((x - mx) * (y - my)) / n;
      }
  const det = cxx * cyy - cxy * cxy;
  const [ixx, iyy, ixy] = [cyy / det, cxx / det, -cxy / det];
  // (p - μ)ᵀ Σ⁻¹ (p - μ) ≤ k has area π·k·sqrt(det Σ); k = 4 for an elliptic mask, and in general the
  // k that keeps the mask's area.
  const k = n / (Math.PI * Math.sqrt(det));
  // Bounding box of the ellipse: half-widths sqrt(k·cxx), sqrt(k·cyy).
  const rx = Math.sqrt(k * cxx);
  const ry = Math.sqrt(k * cyy);
  const ya = Math.max(0, Math.floor(my - ry));
  const yb = Math.min(height - 1, Math.ceil(my + ry));
  const xa = Math.max(0, Math.floor(mx - rx));
  const xb = Math.min(width - 1, Math.ceil(mx + rx));
  for (let y = ya; y <= yb; y++)
    for (let x = xa; x <= xb; x++) {
      const dx = x - mx;
      const dy = y - my;
      if (ixx * dx * dx + 2 * ixy * dx * dy + iyy * dy * dy <= k) out[y * width + x] = 1;
    }
  return out;
}
