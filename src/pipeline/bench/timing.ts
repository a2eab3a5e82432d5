// Timing for the bench: the best of several runs (the least disturbed by other processes), and the share
// of a run spent inside the native convolutions (the conv-only bound), measured in that same run.
import { native } from "../../engine/native.js";

export function best(times: number[]): number {
  return Math.min(...times);
}

export function timeIt(reps: number, fn: () => void): number {
  const out: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    fn();
    out.push(performance.now() - t);
  }
  return best(out);
}

const CONV_FNS = ["convForward", "convBackwardData", "convBackwardWeights", "convBackward"] as const;

/**
 * Best of `reps` runs of fn, with the native conv calls timed in every run: returns the best run's
 * total ms and the conv ms of that same run (so both see the same machine load).
 */
export function timeWithConvs(reps: number, fn: () => void): { ms: number; convMs: number } {
  const n = native as unknown as Record<string, (...a: unknown[]) => unknown>;
  const saved = CONV_FNS.map((k) => n[k]);
  let conv = 0;
  CONV_FNS.forEach((k, i) => {
    n[k] = (...a: unknown[]) => {
      const t = performance.now();
      const r = saved[i](...a);
      conv += performance.now() - t;
      return r;
    };
  });
  let best = { ms: Infinity, convMs: 0 };
  try {
    for (let i = 0; i < reps; i++) {
      conv = 0;
      const t = performance.now();
      fn();
      const ms = performance.now() - t;
      if (ms < best.ms) best = { ms, convMs: conv };
    }
  } finally {
    CONV_FNS.forEach((k, i) => (n[k] = saved[i]));
  }
  return best;
}
