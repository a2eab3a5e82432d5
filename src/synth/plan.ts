/**
 * The plan of a synthetic data set: every frame's name, its subject's scene and its motion, which frames
 * show a nerve, and which are the contradicting near-duplicates. Cheap and made up front in one thread,
 * so that the rendering can be split across workers in any way without changing a byte.
 */
import { SynthRng, mixSeed } from "./random.js";
import type { FrameParams } from "./render.js";
import type { SceneSpec } from "./scene.js";

export interface PlanOptions {
  subjects: number;
  frames: number;
  test: number;
  seed: number;
  noiseFraction: number;
  /** Non-empty real masks (Kaggle RLE) to take nerve outlines from; ovals when absent. */
  shapes?: string[];
  /** Names the shape source in errors. */
  shapesFile?: string;
}

export interface PlannedFrame {
  kind: "train" | "test";
  /** "3_12" for train (subject 3, frame 12), "17" for test. */
  name: string;
  /** Index into SynthPlan.scenes. */
  scene: number;
  params: FrameParams;
}

export interface ContradictingPair {
  /** The near-duplicate whose mask is empty although the nerve is visible. */
  image: string;
  /** The labelled frame it duplicates. */
  duplicateOf: string;
}

export interface SynthPlan {
  scenes: SceneSpec[];
  frames: PlannedFrame[];
  pairs: ContradictingPair[];
}

/** Real share of training frames with a nerve (train_masks.csv: 2,323 of 5,635). */
export const NERVE_FRACTION = 0.41;

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

export function planSynth(o: PlanOptions): SynthPlan {
  const scenes: SceneSpec[] = [];
  const frames: PlannedFrame[] = [];
  const addScene = (kind: number, index: number): number => {
    const seed = mixSeed(o.seed, kind, index);
    const spec: SceneSpec = { seed };
    if (o.shapes && o.shapes.length > 0) {
      const k = mixSeed(seed, 0x5a9e) % o.shapes.length;
      spec.shapeRle = o.shapes[k];
      spec.shapeWhere = `${o.shapesFile ?? "shapes"}: mask ${k + 1} of ${o.shapes.length}`;
    }
    scenes.push(spec);
    return scenes.length - 1;
  };

  const subjectFrames = (kind: number, subject: number, count: number): FrameParams[] => {
    const rng = new SynthRng(mixSeed(o.seed, kind, subject, 0xf4a3e));
    // The nerve is in view for one run of consecutive frames (the probe passes over it), about 41 %.
    const share = clamp(rng.normal(NERVE_FRACTION, 0.08), 0.2, 0.65);
    const present = Math.round(share * count);
    const start = rng.int(count);
    let dx = rng.normal(0, 5, -12, 12);
    let dy = rng.normal(0, 3, -7, 7);
    let scale = 1;
    const out: FrameParams[] = [];
    for (let f = 0; f < count; f++) {
      // a random walk: consecutive frames are small motions of each other
      dx = clamp(dx + rng.normal(0, 2), -14, 14);
      dy = clamp(dy + rng.normal(0, 1.2), -8, 8);
      scale = clamp(0.7 * scale + 0.3 * (1 + rng.normal(0, 0.02)), 0.97, 1.03);
      const rho = rng.uniform(0.55, 0.85);
      const nerve = (f - start + count) % count < present;
      out.push({
        dx,
        dy,
        scale,
        rot: rng.normal(0, 0.008, -0.02, 0.02),
        wobble: rng.uniform(0, 1.5),
        wobblePhase: rng.uniform(0, 2 * Math.PI),
        gain: rng.normal(1, 0.04, 0.9, 1.1),
        nerve,
        label: nerve,
        rho,
        fresh: [{ seed: mixSeed(o.seed, kind, subject, f, 0xf2e5), weight: Math.sqrt(1 - rho * rho) }],
      });
    }
    return out;
  };

  for (let s = 1; s <= o.subjects; s++) {
    const scene = addScene(1, s);
    subjectFrames(1, s, o.frames).forEach((params, f) => {
      frames.push({ kind: "train", name: `${s}_${f + 1}`, scene, params });
    });
  }
  const testSubjects = o.frames > 0 ? Math.ceil(o.test / o.frames) : 0;
  let t = 0;
  for (let s = 1; s <= testSubjects; s++) {
    const scene = addScene(2, s);
    const count = Math.min(o.frames, o.test - t);
    for (const params of subjectFrames(2, s, count)) {
      t++;
      frames.push({ kind: "test", name: String(t), scene, params });
    }
  }

  const pairs = planContradictions(o, frames);
  return { scenes, frames, pairs };
}

/**
 * Turns round(noiseFraction × train frames) frames without a nerve into near-duplicates of a labelled
 * frame of the same subject, nerve visible but mask empty, as happens in the real data (1_9 vs 1_14).
 * Taking frames that had no nerve keeps the share of labelled frames unchanged.
 */
function planContradictions(o: PlanOptions, frames: PlannedFrame[]): ContradictingPair[] {
  const rng = new SynthRng(mixSeed(o.seed, 0xc0de));
  const train = frames.filter((f) => f.kind === "train");
  const want = Math.round(o.noiseFraction * train.length);
  const bySubject = new Map<number, { sources: PlannedFrame[]; targets: PlannedFrame[] }>();
  for (const f of train) {
    let g = bySubject.get(f.scene);
    if (!g) bySubject.set(f.scene, (g = { sources: [], targets: [] }));
    (f.params.label ? g.sources : g.targets).push(f);
  }
  const groups = [...bySubject.values()].filter((g) => g.sources.length > 0 && g.targets.length > 0);
  for (const g of groups) {
    rng.shuffle(g.sources);
    rng.shuffle(g.targets);
  }
  const pairs: ContradictingPair[] = [];
  while (pairs.length < want) {
    const open = groups.filter((g) => g.sources.length > 0 && g.targets.length > 0);
    if (open.length === 0) break;
    const g = open[rng.int(open.length)];
    const src = g.sources.pop()!;
    const dst = g.targets.pop()!;
    const p = src.params;
    const eps = 0.15; // share of new speckle: "practically the same image"
    const keep = Math.sqrt(1 - eps * eps);
    dst.params = {
      ...p,
      dx: p.dx + rng.uniform(-0.5, 0.5),
      dy: p.dy + rng.uniform(-0.3, 0.3),
      nerve: true,
      label: false,
      rho: p.rho * keep,
      fresh: [
        ...p.fresh.map((f) => ({ seed: f.seed, weight: f.weight * keep })),
        { seed: mixSeed(o.seed, 0xd0b1e, pairs.length), weight: eps },
      ],
    };
    pairs.push({ image: dst.name, duplicateOf: src.name });
  }
  return pairs;
}
