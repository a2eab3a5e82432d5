/*
 * Label noise in the Kaggle set: the frames are video frames, and near-identical frames of one subject
 * sometimes disagree on whether the nerve is there. This finds such pairs.
 *
 * Signature: the image cut into 20x20-pixel blocks (29x21 for a Kaggle frame), block means, mean-centred and
 * scaled to unit length. Distance: 1 - cosine of two signatures, i.e. 1 - Pearson correlation of the
 * block means; insensitive to overall gain/brightness changes, blind to the speckle that differs even
 * between consecutive frames. All pairs within a subject are compared (~120 frames per subject: ~7k pairs).
 *
 * Threshold (DEFAULT_DEDUPE_THRESHOLD = 3e-4), from the real sample (subject 1, 50 frames, 1,225 pairs):
 * the two closest pairs are 1_9/1_14 (1.9e-5, labels disagree) and 1_15/1_20 (5.5e-5, both labelled);
 * then comes a 25x gap to 1_35/1_36 (1.4e-3) and an unbroken run of pairs that show the same anatomy with
 * the probe moved (1% of pairs are below 1.2e-2, the median is 0.5). 3e-4 sits in the middle of the gap
 * (on a log scale), so only "practically the same image" counts as a duplicate, which is also what makes
 * the relabel policy safe (the copied mask must sit on the same anatomy).
 */

export const DEDUPE_BLOCK = 20;
export const DEFAULT_DEDUPE_THRESHOLD = 3e-4;

/** A training frame as the caller has it. */
export interface DedupeFrame {
  id: string;
  subject: string | number;
  image: Uint8Array;
  width: number;
  height: number;
  hasMask: boolean;
}

/** A frame reduced to its signature (so a big set need not keep its images in memory). */
export interface SignedFrame {
  id: string;
  subject: string | number;
  signature: Float64Array;
  hasMask: boolean;
}

export interface FramePair {
  subject: string | number;
  /** For a contradicting pair: the empty-labelled frame. */
  a: string;
  /** For a contradicting pair: the labelled frame. */
  b: string;
  distance: number;
  contradicting: boolean;
}

/** Block means over whole `block`x`block` tiles (a partial last row/column of pixels is ignored), centred, unit length. */
export function frameSignature(
  image: Uint8Array,
  width: number,
  height: number,
  block = DEDUPE_BLOCK,
): Float64Array {
  if (image.length !== width * height)
    throw new Error(`frameSignature: ${image.length} pixels for ${width}x${height}`);
  const gw = Math.max(1, Math.floor(width / block));
  const gh = Math.max(1, Math.floor(height / block));
  const bw = Math.min(block, width);
  const bh = Math.min(block, height);
  const sig = new Float64Array(gw * gh);
  for (let y = 0; y < gh * bh; y++) {
    const row = y * width;
    const g = Math.floor(y / bh) * gw;
    for (let x = 0; x < gw * bw; x++) sig[g + Math.floor(x / bw)] += image[row + x];
  }
  let mean = 0;
  for (const v of sig) mean += v;
  mean /= sig.length;
  let norm = 0;
  for (let i = 0; i < sig.length; i++) {
    sig[i] -= mean;
    norm += sig[i] * sig[i];
  }
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < sig.length; i++) sig[i] /= norm;
  return sig;
}

/** 1 - cosine of two signatures (0 = same up to brightness and contrast, 1 = uncorrelated, 2 = inverted). */
export function signatureDistance(a: Float64Array, b: Float64Array): number {
  if (a.length !== b.length) throw new Error(`signatureDistance: lengths ${a.length} and ${b.length} differ`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  // A flat image has no pattern: the same as another flat one, unrelated to anything else.
  if (na === 0 || nb === 0) return na === nb ? 0 : 1;
  return Math.max(0, 1 - dot / Math.sqrt(na * nb));
}

export function signFrame(f: DedupeFrame): SignedFrame {
  return {
    id: f.id,
    subject: f.subject,
    hasMask: f.hasMask,
    signature: frameSignature(f.image, f.width, f.height),
  };
}

const signed = (f: DedupeFrame | SignedFrame): SignedFrame => ("signature" in f ? f : signFrame(f));

/**
 * Every within-subject pair with its distance, closest first. In a contradicting pair `a` is the empty
 * frame; otherwise a/b keep input order.
 */
export function pairDistances(frames: readonly (DedupeFrame | SignedFrame)[]): FramePair[] {
  const bySubject = new Map<string, SignedFrame[]>();
  for (const f of frames) {
    const key = String(f.subject);
    let list = bySubject.get(key);
    if (!list) bySubject.set(key, (list = []));
    list.push(signed(f));
  }
  const pairs: FramePair[] = [];
  for (const list of bySubject.values()) {
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const p = list[i];
        const q = list[j];
        const contradicting = p.hasMask !== q.hasMask;
        const [a, b] = contradicting && p.hasMask ? [q, p] : [p, q];
        pairs.push({
          subject: p.subject,
          a: a.id,
          b: b.id,
          distance: signatureDistance(p.signature, q.signature),
          contradicting,
        });
      }
    }
  }
  return pairs.sort((x, y) => x.distance - y.distance || x.a.localeCompare(y.a) || x.b.localeCompare(y.b));
}

/** The near-duplicate pairs (distance <= threshold) whose presence labels disagree, closest first. */
export function findContradictions(
  frames: readonly (DedupeFrame | SignedFrame)[],
  threshold = DEFAULT_DEDUPE_THRESHOLD,
): FramePair[] {
  return pairDistances(frames).filter((p) => p.contradicting && p.distance <= threshold);
}

/**
 * - "drop": drop the empty-labelled frame of each pair. Default: in a near-identical pair the nerve is, by
 *   construction, equally visible in both, and a missed annotation is the likelier error than a drawn
 *   phantom; keeping the labelled frame also keeps a (scarcer, 41%) positive example.
 * - "drop-both": drop both frames, for when neither label can be trusted.
 * - "relabel": give the empty frame the mask of its closest labelled partner (kept in training).
 */
export type DedupePolicy = "drop" | "drop-both" | "relabel";

export interface DedupePlan {
  /** Frames to leave out of training, sorted. */
  drop: string[];
  /** Empty frames that take the mask of `maskFrom`. */
  relabel: { id: string; maskFrom: string; distance: number }[];
}

export function planDedupe(contradictions: readonly FramePair[], policy: DedupePolicy): DedupePlan {
  const drop = new Set<string>();
  const relabel = new Map<string, { id: string; maskFrom: string; distance: number }>();
  for (const p of contradictions) {
    if (!p.contradicting) continue;
    if (policy === "drop") drop.add(p.a);
    else if (policy === "drop-both") {
      drop.add(p.a);
      drop.add(p.b);
    } else {
      const prev = relabel.get(p.a);
      if (!prev || p.distance < prev.distance)
        relabel.set(p.a, { id: p.a, maskFrom: p.b, distance: p.distance });
    }
  }
  return {
    drop: [...drop].sort(),
    relabel: [...relabel.values()].sort((x, y) => x.id.localeCompare(y.id)),
  };
}

export interface DistanceStats {
  pairs: number;
  min: number;
  /** Pairs at or under the threshold. */
  under: number;
  p01: number;
  p05: number;
  median: number;
}

/** Summary of the distances of pairs with the same and with different presence labels. */
export function distanceStats(
  pairs: readonly FramePair[],
  threshold: number,
): { same: DistanceStats; different: DistanceStats } {
  const stats = (ds: number[]): DistanceStats => {
    ds.sort((x, y) => x - y);
    const q = (f: number) => (ds.length ? ds[Math.floor(f * (ds.length - 1))] : NaN);
    return {
      pairs: ds.length,
      min: q(0),
      under: ds.filter((d) => d <= threshold).length,
      p01: q(0.01),
      p05: q(0.05),
      median: q(0.5),
    };
  };
  return {
    same: stats(pairs.filter((p) => !p.contradicting).map((p) => p.distance)),
    different: stats(pairs.filter((p) => p.contradicting).map((p) => p.distance)),
  };
}
