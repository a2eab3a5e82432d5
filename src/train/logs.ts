/*
 * TensorBoard logs as Keras writes them: two runs, `logs/train` and `logs/validation`, with the same tags
 * (epoch_loss, epoch_dice), so each chart overlays training and validation; the validation Kaggle score,
 * the learning rate and throughput beside them; weight histograms in the train run; the recipe as
 * hyperparameters (HParams dashboard); and a few validation frames with truth (blue) and prediction
 * (orange) contours in the Images tab.
 */
import path from "node:path";
import * as E from "../engine/index.js";
import { encodePng } from "../io/png.js";
import { overlayRgb } from "../report/overlay.js";
import type { Preset } from "../model/config.js";
import type { UNet } from "../model/unet.js";
import { buildBatch, type BatchContext } from "./batches.js";
import type { HistoryRow } from "./history.js";
import { SummaryWriter, type HParamMetric } from "../report/tensorboard.js";

/** Validation frames shown in the Images tab, and how much they are enlarged (nearest neighbour). */
const SAMPLES = 3;
const ZOOM = 3;

/** The scalars an HParams session lists as its metrics: training and validation side by side. */
const SESSION_METRICS: readonly HParamMetric[] = [
  { group: "train", tag: "epoch_loss" },
  { group: "validation", tag: "epoch_loss" },
  { group: "train", tag: "epoch_dice" },
  { group: "validation", tag: "epoch_dice" },
  { group: "validation", tag: "epoch_score" },
];

export class TrainingLogs {
  readonly train: SummaryWriter;
  readonly validation: SummaryWriter;
  /** logs/ itself: the one HParams session of the run (its runs train/ and validation/ below it). */
  readonly session: SummaryWriter;

  constructor(dir: string) {
    this.train = new SummaryWriter(path.join(dir, "train"));
    this.validation = new SummaryWriter(path.join(dir, "validation"));
    this.session = new SummaryWriter(dir);
  }

  /**
   * The recipe, flattened to name → value, for the HParams dashboard: one session per run (written in
   * logs/, not in each of train/ and validation/, which TensorBoard would count as two sessions).
   */
  hparams(preset: Preset): void {
    const { model: m, train: t } = preset;
    const values = {
      preset: m.preset,
      input: `${m.inputHeight}x${m.inputWidth}`,
      fit: m.fit,
      kernel: m.kernel,
      filters: m.filters.join("-"),
      optimizer: t.optimizer,
      lr: t.lr,
      batch: t.batch,
      epochs: t.epochs,
      dice: t.dice,
      pixel_bce: t.pixelBce,
      presence_weight: t.presenceWeight,
      schedule: t.schedule,
      elastic: t.augment.elastic !== null,
      scale: t.augment.scale ?? 0,
      intensity: t.augment.intensity !== null,
      seed: t.seed,
    };
    this.session.hparamsExperiment(values, SESSION_METRICS);
    this.session.hparams(values);
    this.session.flush();
  }

  /** Marks the session finished (a resumable stop leaves it open for the resumed run). */
  end(status: "success" | "failure"): void {
    this.session.hparamsEnd(status);
  }

  epoch(row: HistoryRow, model: UNet, ctx: BatchContext, valIdx: readonly number[]): void {
    const step = row.epoch;
    const scalar = (w: SummaryWriter, tag: string, v: number) => {
      if (!Number.isNaN(v)) w.scalar(tag, v, step);
    };
    scalar(this.train, "epoch_loss", row.loss);
    scalar(this.train, "epoch_dice", row.dice);
    scalar(this.train, "epoch_lr", row.lr);
    scalar(this.train, "epoch_img_per_s", row.img_per_s);
    scalar(this.validation, "epoch_loss", row.val_loss);
    scalar(this.validation, "epoch_dice", row.val_dice);
    scalar(this.validation, "epoch_score", row.val_score);
    for (const [name, p] of model.namedParameters()) this.train.histogram(name, p.data, step);
    this.samples(model, ctx, valIdx.slice(0, SAMPLES), step);
    this.train.flush();
    this.validation.flush();
  }

  /** A few validation frames with truth and prediction (threshold 0.5) contours, enlarged. */
  private samples(model: UNet, ctx: BatchContext, idx: readonly number[], step: number): void {
    if (idx.length === 0) return;
    const { width: w, height: h } = ctx;
    const px = w * h;
    const b = buildBatch(ctx, { indices: [...idx], seed: null });
    const probs = E.tidy(() =>
      E.noGrad(() => {
        model.eval();
        try {
          return model.forward(E.fromArray([idx.length, h, w, 1], b.x)).mask.toFloat32Array();
        } finally {
          model.train();
        }
      }),
    );
    idx.forEach((f, k) => {
      const zoom = (src: ArrayLike<number>, on = (v: number) => v) => {
        const out = new Uint8Array(px * ZOOM * ZOOM);
        for (let y = 0; y < h * ZOOM; y++)
          for (let x = 0; x < w * ZOOM; x++)
            out[y * w * ZOOM + x] = on(src[((y / ZOOM) | 0) * w + ((x / ZOOM) | 0)]);
        return out;
      };
      const image = {
        width: w * ZOOM,
        height: h * ZOOM,
        data: zoom(ctx.images.subarray(f * px, (f + 1) * px)),
      };
      const truth = zoom(ctx.masks.subarray(f * px, (f + 1) * px));
      const pred = zoom(probs.subarray(k * px, (k + 1) * px), (v) => (v > 0.5 ? 1 : 0));
      const png = encodePng(overlayRgb(image, truth, pred), image.width, image.height);
      this.validation.image(`sample_${k + 1}`, png, image.width, image.height, step);
    });
  }

  close(): void {
    this.train.close();
    this.validation.close();
    this.session.close();
  }
}
