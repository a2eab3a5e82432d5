/* The loss of a batch and the validation pass (loss, soft Dice, the Kaggle score), shared by the trainer. */
import * as E from "../engine/index.js";
import { softDice } from "../metric/dice.js";
import type { Preset } from "../model/config.js";
import { DEFAULT_POSTPROCESS, kaggleImageScore, scaleMinArea } from "../postprocess/mask-rule.js";
import type { UNet } from "../model/unet.js";
import { buildBatch, type BatchContext } from "./batches.js";

export interface ValResult {
  loss: number;
  dice: number;
  score: number;
}

/**
 * The training loss: soft Dice (batch or per image) + pixelBce x pixel-wise BCE + presenceWeight x BCE on
 * the presence head.
 */
export function lossOf(
  out: { mask: E.Tensor; presence: E.Tensor | null },
  y: E.Tensor,
  has: E.Tensor,
  preset: Preset,
): { total: E.Tensor; dice: E.Tensor } {
  const t = preset.train;
  const dice = E.diceLoss(out.mask, y, { smooth: t.diceSmooth, perImage: t.dice === "strict" });
  let total = dice;
  if (t.pixelBce > 0) total = E.add(total, E.scale(E.bceLoss(out.mask, y), t.pixelBce));
  if (out.presence && t.presenceWeight > 0)
    total = E.add(total, E.scale(E.bceLoss(out.presence, has), t.presenceWeight));
  return { total, dice };
}

/** Validation: loss, soft Dice and the Kaggle score, eval mode, no augmentation. */
export function validate(
  model: UNet,
  ctx: BatchContext,
  indices: readonly number[],
  preset: Preset,
): ValResult {
  if (indices.length === 0) return { loss: NaN, dice: NaN, score: NaN };
  const { inputHeight: h, inputWidth: w } = preset.model;
  const px = h * w;
  const minArea = scaleMinArea(preset.train.valMinArea, w, h);
  const opts = { ...DEFAULT_POSTPROCESS, minArea };
  let loss = 0;
  let dice = 0;
  let score = 0;
  const batch = preset.train.batch;
  model.eval();
  try {
    for (let at = 0; at < indices.length; at += batch) {
      // Always a full batch (topped up with frames already seen, whose outputs are ignored): the
      // activations keep the training shapes, so the engine reuses its buffers.
      const idx = indices.slice(at, at + batch);
      const count = idx.length;
      while (idx.length < batch && indices.length >= batch) idx.push(indices[idx.length - count]);
      const b = buildBatch(ctx, { indices: idx, seed: null });
      E.tidy(() =>
        E.noGrad(() => {
          const out = model.forward(E.fromArray([b.count, h, w, 1], b.x));
          const probs = out.mask.data.subarray(0, count * px);
          const truth = b.y.subarray(0, count * px);
          const mine = {
            mask: E.fromArray([count, h, w, 1], probs),
            presence: out.presence ? E.fromArray([count, 1], out.presence.data.subarray(0, count)) : null,
          };
          const y = E.fromArray([count, h, w, 1], truth);
          const has = E.fromArray([count, 1], b.has.subarray(0, count));
          loss += lossOf(mine, y, has, preset).total.item() * count;
          dice += softDice(probs, truth, preset.train.diceSmooth) * count;
          for (let i = 0; i < count; i++) {
            const presence = out.presence ? out.presence.data[i] : 1;
            score += kaggleImageScore(
              probs.subarray(i * px, (i + 1) * px),
              truth.subarray(i * px, (i + 1) * px),
              presence,
              opts,
            );
          }
        }),
      );
    }
  } finally {
    model.train();
  }
  return { loss: loss / indices.length, dice: dice / indices.length, score: score / indices.length };
}
