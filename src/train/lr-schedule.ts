import type { TrainConfig } from "../model/config.js";
/**
 * ReduceLROnPlateau with Keras semantics (keras.callbacks.ReduceLROnPlateau, mode "min") plus optional
 * early stopping (keras.callbacks.EarlyStopping on the same monitored value). The whole state is a plain
 * JSON object so a checkpoint can resume the schedule exactly.
 *
 * Improvement (Keras, absolute min_delta): value < best - minDelta. With thresholdMode "rel"
 * (PyTorch-style): value < best * (1 - minDelta).
 * Each epoch: if cooling down, count the cooldown down and reset wait. Then an improvement sets best and
 * resets wait; otherwise (when the cooldown is now 0) wait += 1 and when wait >= patience and lr > minLr the lr
 * becomes max(lr * factor, minLr), cooldown restarts and wait resets. At minLr, wait keeps growing.
 */

export interface PlateauOptions {
  /** Multiplies the lr on a plateau (Keras default 0.1; the reference recipe uses 0.2). */
  factor: number;
  /** Epochs without improvement before the lr is reduced. */
  patience: number;
  minDelta: number;
  thresholdMode: "abs" | "rel";
  /** Epochs after a reduction during which no plateau is counted. */
  cooldown: number;
  minLr: number;
  /** Stop after this many epochs without improvement (Keras EarlyStopping, min_delta 0); null = never. */
  earlyStopPatience: number | null;
}

export const DEFAULT_PLATEAU: PlateauOptions = {
  factor: 0.2,
  patience: 6,
  minDelta: 1e-4,
  thresholdMode: "abs",
  cooldown: 0,
  minLr: 0,
  earlyStopPatience: null,
};

/** JSON-safe state (best is null until the first epoch, standing for +Infinity). */
export interface PlateauState {
  lr: number;
  best: number | null;
  wait: number;
  cooldownCounter: number;
  /** Early stopping tracks its own best (min_delta 0, as Keras's EarlyStopping default). */
  stopBest: number | null;
  stopWait: number;
  epochs: number;
}

export interface PlateauStep {
  /** The lr to use for the next epoch. */
  lr: number;
  reduced: boolean;
  improved: boolean;
  /** Early stopping asks to end training. */
  stop: boolean;
}

export class ReduceLROnPlateau {
  readonly options: PlateauOptions;
  private s: PlateauState;

  constructor(initialLr: number, options: Partial<PlateauOptions> = {}, state?: PlateauState) {
    this.options = { ...DEFAULT_PLATEAU, ...options };
    const o = this.options;
    if (!(o.factor > 0 && o.factor < 1))
      throw new Error(`ReduceLROnPlateau: factor ${o.factor} must be in (0, 1)`);
    if (!(o.patience >= 0) || !(o.cooldown >= 0) || !(o.minDelta >= 0) || !(o.minLr >= 0)) {
      throw new Error("ReduceLROnPlateau: patience, cooldown, minDelta and minLr must be >= 0");
    }
    this.s = state
      ? { ...state }
      : { lr: initialLr, best: null, wait: 0, cooldownCounter: 0, stopBest: null, stopWait: 0, epochs: 0 };
  }

  get lr(): number {
    return this.s.lr;
  }

  private better(value: number, best: number | null, minDelta: number): boolean {
    if (best === null) return !Number.isNaN(value);
    return this.options.thresholdMode === "rel" ? value < best * (1 - minDelta) : value < best - minDelta;
  }

  /** Feeds the monitored value (validation loss) at the end of an epoch. */
  step(value: number): PlateauStep {
    const o = this.options;
    const s = this.s;
    s.epochs++;
    let reduced = false;
    if (s.cooldownCounter > 0) {
      s.cooldownCounter--;
      s.wait = 0;
    }
    const improved = this.better(value, s.best, o.minDelta);
    if (improved) {
      s.best = value;
      s.wait = 0;
    } else if (s.cooldownCounter === 0) {
      // Keras re-checks the cooldown after counting it down, so its last epoch already counts as waiting.
      s.wait++;
      if (s.wait >= o.patience && s.lr > o.minLr) {
        s.lr = Math.max(s.lr * o.factor, o.minLr);
        s.cooldownCounter = o.cooldown;
        s.wait = 0;
        reduced = true;
      }
    }
    let stop = false;
    if (this.better(value, s.stopBest, 0)) {
      s.stopBest = value;
      s.stopWait = 0;
    } else {
      s.stopWait++;
      stop = o.earlyStopPatience !== null && s.stopWait >= o.earlyStopPatience;
    }
    return { lr: s.lr, reduced, improved, stop };
  }

  /** A copy of the state, for a checkpoint. */
  state(): PlateauState {
    return { ...this.s };
  }
}

/** The schedule's options from a recipe. */
export const plateauOptionsOf = (t: TrainConfig) => ({
  factor: t.plateau.factor,
  patience: t.plateau.patience,
  minLr: t.plateau.minLr,
  earlyStopPatience: t.plateau.earlyStop,
});

/** Cosine annealing from lr0 (epoch 0) to minLr (the last epoch). */
export function cosineLr(lr0: number, minLr: number, epoch: number, epochs: number): number {
  return minLr + ((lr0 - minLr) * (1 + Math.cos((Math.PI * Math.min(epoch, epochs)) / epochs))) / 2;
}
