/*
 * The measured speed a plan budgets with: one optimizer step of the planned network at its batch and
 * precision on this machine (a warm-up step, then the median of a few). Cached per CPU model, thread count
 * and network in ~/.cache/nerveseg/calibration.json, so planning again is instant and deterministic; a
 * different CPU (or core count) is a different key, so a moved cache is never believed.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as E from "../../engine/index.js";
import { writeFileAtomic } from "../../io/atomic.js";
import type { Preset } from "../../model/config.js";
import { UNet } from "../../model/unet.js";
import { trainingStep } from "../bench/bench.js";

export interface Calibration {
  /** Seconds per optimizer step. */
  stepSeconds: number;
  /** Where it came from: measured now, or the cache (with the time it was measured). */
  source: "measured" | "cache";
  measuredAt: string;
  key: string;
}

/** The machine part of a cache key: what makes a step faster or slower on the same network. */
export function machineKey(threads = E.getThreads()): string {
  const cpu = os.cpus()[0]?.model?.trim() ?? "unknown cpu";
  return `${cpu} | ${os.cpus().length} cores | ${threads} threads | bf16 ${E.bf16Supported()}`;
}

/** The network part: what the step computes. */
export function networkKey(p: Preset, precision: E.Precision): string {
  const m = p.model;
  return `${m.inputHeight}x${m.inputWidth} k${m.kernel} f${m.filters.join("-")} b${p.train.batch} ${precision}`;
}

export function defaultCacheFile(): string {
  return path.join(
    process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"),
    "nerveseg",
    "calibration.json",
  );
}

type Cache = Record<string, { stepSeconds: number; measuredAt: string }>;

function readCache(file: string): Cache {
  try {
    const raw = JSON.parse(fs.readFileSync(file, "utf8")) as unknown;
    return raw !== null && typeof raw === "object" && !Array.isArray(raw) ? (raw as Cache) : {};
  } catch {
    return {}; // absent or damaged: measure again
  }
}

/** One step of `p`'s network, measured (or from the cache for this machine and network). */
export function calibrate(
  p: Preset,
  opts: { cacheFile?: string; steps?: number; measure?: (p: Preset, precision: E.Precision) => number } = {},
): Calibration {
  const precision = E.resolvePrecision(p.train.precision ?? "fp32");
  const key = `${machineKey()} || ${networkKey(p, precision)}`;
  const file = opts.cacheFile ?? defaultCacheFile();
  const cache = readCache(file);
  const hit = cache[key];
  if (hit && Number.isFinite(hit.stepSeconds) && hit.stepSeconds > 0)
    return { stepSeconds: hit.stepSeconds, source: "cache", measuredAt: hit.measuredAt, key };
  const stepSeconds = (opts.measure ?? ((q, pr) => measureStep(q, pr, opts.steps ?? 3)))(p, precision);
  const measuredAt = new Date().toISOString();
  cache[key] = { stepSeconds, measuredAt };
  try {
    writeFileAtomic(file, JSON.stringify(cache, null, 1) + "\n");
  } catch {
    // An unwritable cache costs a measurement next time, nothing else.
  }
  return { stepSeconds, source: "measured", measuredAt, key };
}

/** The median of `steps` timed training steps after one warm-up, in seconds. */
export function measureStep(p: Preset, precision: E.Precision, steps: number): number {
  const net = new UNet(p.model, { mean: 0, std: 1 }, new E.Rng(1), precision);
  const opt = new E.Adam(net.parameters(), { lr: 1e-4 });
  const { inputHeight: h, inputWidth: w } = p.model;
  const pixels = Float32Array.from({ length: h * w }, (_, i) => Math.sin(i * 0.37));
  try {
    net.train();
    const step = trainingStep(net, opt, p.train.batch, pixels);
    step();
    const times: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t = performance.now();
      step();
      times.push((performance.now() - t) / 1000);
    }
    times.sort((a, b) => a - b);
    return times[times.length >> 1];
  } finally {
    net.dispose();
    opt.dispose();
    E.releaseMemoryPool();
  }
}
