/*
 * `--preset auto`: fingerprint a prepared folder, plan its network, measure (or recall) that network's
 * step on this machine, and fit the epochs into the budget. `plan.json` is the plan as a preset file
 * (`nerveseg train --preset plan.json` trains it again) with its reasons, fingerprint and calibration.
 */
import { readManifest } from "../../data/manifest.js";
import { writeFileAtomic } from "../../io/atomic.js";
import { calibrate, type Calibration } from "./calibrate.js";
import { fingerprint, type Fingerprint } from "./fingerprint.js";
import { planNetwork, planRecipe, type Plan } from "./plan.js";
import { PRESETS, type Preset } from "../../model/config.js";

export interface AutoPlan extends Plan {
  fingerprint: Fingerprint;
  calibration: Calibration;
  budgetMinutes: number;
  trainFrames: number;
}

export interface AutoPlanOptions {
  /** Minutes of training per run (one model, or one fold of cv). */
  budgetMinutes: number;
  /** Plan one fold of K-fold cross-validation (trains on (K-1)/K of the frames) instead of the split. */
  folds?: number;
  /** Where measured steps are cached (default ~/.cache/nerveseg/calibration.json). */
  cacheFile?: string;
}

/** The plan for a prepared folder within a budget (see the file comment). */
export function autoPlan(data: string, o: AutoPlanOptions): AutoPlan {
  const m = readManifest(data);
  const fp = fingerprint(data);
  const frames = m.train.ids.length;
  const trainFrames = o.folds ? Math.round((frames * (o.folds - 1)) / o.folds) : frames - m.split.val.length;
  const { net } = planNetwork(fp);
  const probe: Preset = {
    model: {
      ...PRESETS.real.model,
      inputHeight: net.inputHeight,
      inputWidth: net.inputWidth,
      filters: net.filters,
      fit: net.fit,
    },
    train: { ...PRESETS.real.train, batch: net.batch },
  };
  const calibration = calibrate(probe, { cacheFile: o.cacheFile });
  const plan = planRecipe(
    { fingerprint: fp, trainFrames, budgetMinutes: o.budgetMinutes },
    calibration.stepSeconds,
  );
  return { ...plan, fingerprint: fp, calibration, budgetMinutes: o.budgetMinutes, trainFrames };
}

/** plan.json: the preset (a preset file `train --preset` reads) and, under `plan`, why and from what. */
export function writePlan(file: string, p: AutoPlan): void {
  const { preset, why, fingerprint: fp, calibration, budgetMinutes, trainFrames } = p;
  writeFileAtomic(
    file,
    JSON.stringify(
      { ...preset, plan: { why, budgetMinutes, trainFrames, calibration, fingerprint: fp } },
      null,
      2,
    ) + "\n",
  );
}
