// Float64 reference implementations of the engine's ops (NHWC, HWIO), written the obvious way,
// used to check forwards and as the function under central finite differences.

export type F64 = Float64Array;

export function conv(
  x: F64,
  [n, h, w, c]: number[],
  wt: F64,
  [kh, kw, , oc]: number[],
  b: F64 | null,
  s: number,
  p: number,
): { y: F64; shape: number[] } {
  const oh = Math.floor((h + 2 * p - kh) / s) + 1;
  const ow = Math.floor((w + 2 * p - kw) / s) + 1;
  const y = new Float64Array(n * oh * ow * oc);
  for (let i = 0; i < n; i++)
    for (let yh = 0; yh < oh; yh++)
      for (let yw = 0; yw < ow; yw++)
        for (let o = 0; o < oc; o++) {
          let acc = b ? b[o] : 0;
          for (let a = 0; a < kh; a++)
            for (let bb = 0; bb < kw; bb++) {
              const ih = yh * s + a - p,
                iw = yw * s + bb - p;
              if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
              for (let k = 0; k < c; k++)
                acc += x[((i * h + ih) * w + iw) * c + k] * wt[((a * kw + bb) * c + k) * oc + o];
            }
          y[((i * oh + yh) * ow + yw) * oc + o] = acc;
        }
  return { y, shape: [n, oh, ow, oc] };
}

export function act(z: number, kind: string, alpha = 1): number {
  if (kind === "elu") return z > 0 ? z : alpha * (Math.exp(z) - 1);
  if (kind === "relu") return z > 0 ? z : 0;
  if (kind === "sigmoid") return 1 / (1 + Math.exp(-z));
  return z;
}

export function bn(
  x: F64,
  c: number,
  gamma: F64,
  beta: F64,
  training: boolean,
  rm: F64,
  rv: F64,
  eps: number,
  kind = "none",
): F64 {
  const rows = x.length / c;
  const mean = new Float64Array(c),
    vr = new Float64Array(c);
  if (training) {
    for (let r = 0; r < rows; r++) for (let k = 0; k < c; k++) mean[k] += x[r * c + k] / rows;
    for (let r = 0; r < rows; r++) for (let k = 0; k < c; k++) vr[k] += (x[r * c + k] - mean[k]) ** 2 / rows;
  } else {
    mean.set(rm);
    vr.set(rv);
  }
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++)
    for (let k = 0; k < c; k++)
      y[r * c + k] = act(((x[r * c + k] - mean[k]) / Math.sqrt(vr[k] + eps)) * gamma[k] + beta[k], kind);
  return y;
}

export function maxPool(x: F64, [n, h, w, c]: number[]): F64 {
  const oh = h >> 1,
    ow = w >> 1;
  const y = new Float64Array(n * oh * ow * c);
  for (let i = 0; i < n; i++)
    for (let a = 0; a < oh; a++)
      for (let b = 0; b < ow; b++)
        for (let k = 0; k < c; k++) {
          let m = -Infinity;
          for (let da = 0; da < 2; da++)
            for (let db = 0; db < 2; db++)
              m = Math.max(m, x[((i * h + 2 * a + da) * w + 2 * b + db) * c + k]);
          y[((i * oh + a) * ow + b) * c + k] = m;
        }
  return y;
}

export function upsample(x: F64, [n, h, w, c]: number[]): F64 {
  const y = new Float64Array(x.length * 4);
  for (let i = 0; i < n; i++)
    for (let a = 0; a < 2 * h; a++)
      for (let b = 0; b < 2 * w; b++)
        for (let k = 0; k < c; k++)
          y[((i * 2 * h + a) * 2 * w + b) * c + k] = x[((i * h + (a >> 1)) * w + (b >> 1)) * c + k];
  return y;
}

export function concat(xs: F64[], cs: number[]): F64 {
  const rows = xs[0].length / cs[0];
  const total = cs.reduce((a, b) => a + b, 0);
  const y = new Float64Array(rows * total);
  for (let r = 0; r < rows; r++) {
    let off = 0;
    xs.forEach((x, i) => {
      for (let k = 0; k < cs[i]; k++) y[r * total + off + k] = x[r * cs[i] + k];
      off += cs[i];
    });
  }
  return y;
}

export function dense(x: F64, n: number, k: number, w: F64, m: number, b: F64 | null): F64 {
  const y = new Float64Array(n * m);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      let acc = b ? b[j] : 0;
      for (let q = 0; q < k; q++) acc += x[i * k + q] * w[q * m + j];
      y[i * m + j] = acc;
    }
  return y;
}

export function dice(p: F64, t: F64, groups: number, s: number): number {
  const per = p.length / groups;
  let loss = 0;
  for (let g = 0; g < groups; g++) {
    let inter = 0,
      den = 0;
    for (let i = g * per; i < (g + 1) * per; i++) {
      inter += p[i] * t[i];
      den += p[i] + t[i];
    }
    loss += 1 - (2 * inter + s) / (den + s);
  }
  return loss / groups;
}

export function bce(p: F64, t: F64, n: number, weights: number[] | null): number {
  const per = p.length / n;
  let total = 0;
  for (let g = 0; g < n; g++)
    for (let i = g * per; i < (g + 1) * per; i++)
      total -= (weights ? weights[g] : 1) * (t[i] * Math.log(p[i]) + (1 - t[i]) * Math.log(1 - p[i]));
  return total / p.length;
}
