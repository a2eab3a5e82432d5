import fs from "node:fs";
import path from "node:path";
import * as E from "../../src/engine/index.js";
import { PRESETS } from "../../src/model/config.js";
import { MODEL_FORMAT, saveModel, type ModelFolderConfig } from "../../src/model/model-file.js";
import { UNet } from "../../src/model/unet.js";
import { DEFAULT_POSTPROCESS } from "../../src/postprocess/mask-rule.js";
import { writeTiff } from "../../src/io/tiff.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../../src/io/image.js";

/** A randomly initialised two-head U-Net at 16x16 saved as a model folder (fast enough for unit tests). */
export function saveTinyModel(dir: string, seed = 1): ModelFolderConfig {
  const config: ModelFolderConfig = {
    format: MODEL_FORMAT,
    version: 1,
    model: {
      preset: "tiny",
      inputHeight: 16,
      inputWidth: 16,
      kernel: 3,
      fit: "stretch",
      filters: [4, 8],
      presenceHead: true,
      dropout: 0,
    },
    train: PRESETS.fast.train,
    normalization: { mean: 100, std: 50 },
    resize: "area",
    postprocess: DEFAULT_POSTPROCESS,
  };
  const model = new UNet(config.model, config.normalization, new E.Rng(seed));
  saveModel(dir, model, config, { epoch: 0, valLoss: 1 });
  model.dispose();
  return config;
}

/** A full-size (580x420) frame: a bright disc at (cx, cy) on a gradient, and its 0/255 mask. */
export function discFrame(cx: number, cy: number, r: number, withNerve: boolean) {
  const data = new Uint8Array(KAGGLE_WIDTH * KAGGLE_HEIGHT);
  const mask = new Uint8Array(data.length);
  for (let y = 0; y < KAGGLE_HEIGHT; y++)
    for (let x = 0; x < KAGGLE_WIDTH; x++) {
      const inside = withNerve && (x - cx) ** 2 + (y - cy) ** 2 < r * r;
      data[y * KAGGLE_WIDTH + x] = inside ? 220 : 40 + ((x + y) % 97);
      if (inside) mask[y * KAGGLE_WIDTH + x] = 255;
    }
  return {
    image: { width: KAGGLE_WIDTH, height: KAGGLE_HEIGHT, data },
    mask: { width: KAGGLE_WIDTH, height: KAGGLE_HEIGHT, data: mask },
  };
}

/** A Kaggle-layout folder: `train` frames of subject 1 (alternating nerve / none) and `test` frames 1..n. */
export function writeDiscDataset(dir: string, train: number, test: number): void {
  fs.mkdirSync(path.join(dir, "train"), { recursive: true });
  fs.mkdirSync(path.join(dir, "test"), { recursive: true });
  for (let i = 1; i <= train; i++) {
    const f = discFrame(300 + 5 * i, 150, 45, i % 2 === 0);
    writeTiff(path.join(dir, "train", `1_${i}.tif`), f.image);
    writeTiff(path.join(dir, "train", `1_${i}_mask.tif`), f.mask);
  }
  for (let i = 1; i <= test; i++)
    writeTiff(path.join(dir, "test", `${i}.tif`), discFrame(320, 140 + i, 40, i % 2 === 1).image);
}
