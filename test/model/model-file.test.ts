import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import * as E from "../../src/engine/index.js";
import { UNet } from "../../src/model/unet.js";
import { PRESETS, type ModelConfig } from "../../src/model/config.js";
import { DEFAULT_POSTPROCESS } from "../../src/postprocess/mask-rule.js";
import {
  CONFIG_FILE,
  WEIGHTS_FILE,
  loadModel,
  readModelConfig,
  saveModel,
  type ModelFolderConfig,
} from "../../src/model/model-file.js";
import { predictBatch } from "../../src/predict/predictor.js";
import { UserError } from "../../src/core/errors.js";
import type { GreyImage } from "../../src/io/image.js";
import { tempDir } from "../helpers/sample.js";

const modelCfg: ModelConfig = {
  ...PRESETS.fast.model,
  preset: "tiny",
  inputHeight: 16,
  inputWidth: 16,
  filters: [4, 8],
};
const folderCfg = (model = modelCfg): ModelFolderConfig => ({
  format: "nerveseg-model",
  version: 1,
  model,
  train: PRESETS.fast.train,
  normalization: { mean: 90, std: 40 },
  resize: "area",
  postprocess: DEFAULT_POSTPROCESS,
});

function frames(n: number, w: number, h: number): GreyImage[] {
  const rng = new E.Rng(3);
  return Array.from({ length: n }, () => ({
    width: w,
    height: h,
    data: Uint8Array.from({ length: w * h }, () => rng.int(256)),
  }));
}

/** A model whose BN running statistics are not the defaults (a few training-mode passes). */
function trainedish(): UNet {
  const net = new UNet(modelCfg, { mean: 90, std: 40 }, new E.Rng(9));
  net.train();
  for (let i = 0; i < 3; i++)
    E.tidy(() =>
      net.forward(
        E.fromArray(
          [2, 16, 16, 1],
          Float32Array.from({ length: 512 }, (_, k) => Math.cos(k * (i + 1))),
        ),
      ),
    );
  return net;
}

test("save/load round trip: same tensors, identical predictions, full-res frames resized", () => {
  const dir = tempDir();
  const net = trainedish();
  saveModel(dir, net, folderCfg(), { epoch: 3, valLoss: 0.25 });
  assert.ok(fs.existsSync(path.join(dir, CONFIG_FILE)) && fs.existsSync(path.join(dir, WEIGHTS_FILE)));
  const { model, config, metadata } = loadModel(dir);
  assert.equal(metadata.epoch, "3");
  assert.equal(metadata.val_loss, "0.25");
  assert.deepEqual(config.normalization, { mean: 90, std: 40 });
  assert.deepEqual(config.postprocess, DEFAULT_POSTPROCESS);
  const sa = net.stateDict();
  for (const [n, t] of model.stateDict()) assert.deepEqual(t.data, sa.get(n)!.data, n);
  const imgs = frames(3, 16, 16);
  const a = predictBatch(net, imgs);
  const b = predictBatch(model, imgs);
  assert.equal(a.probs.length, 3);
  assert.equal(a.probs[0].length, 256);
  assert.deepEqual(b.probs, a.probs);
  assert.deepEqual(b.presence, a.presence);
  assert.ok(a.presence.every((p) => p > 0 && p < 1));
  // A 580x420 frame is brought to 16x16 first.
  const big = predictBatch(model, frames(2, 580, 420));
  assert.equal(big.probs[1].length, 256);
  // predictBatch leaves a training model in training mode.
  assert.equal(net.training, true);
  net.dispose();
  model.dispose();
});

test("rewriting config.json keeps a tuned postprocess section", () => {
  const dir = tempDir();
  const net = trainedish();
  saveModel(dir, net, folderCfg(), { epoch: 1, valLoss: 1 });
  const file = path.join(dir, CONFIG_FILE);
  const tuned = {
    ...JSON.parse(fs.readFileSync(file, "utf8")),
    postprocess: { ...DEFAULT_POSTPROCESS, pixelThreshold: 0.4, presenceThreshold: 0.6, minArea: 3000 },
  };
  fs.writeFileSync(file, JSON.stringify(tuned));
  saveModel(dir, net, folderCfg(), { epoch: 2, valLoss: 0.5 });
  assert.equal(readModelConfig(dir).postprocess.minArea, 3000);
  net.dispose();
});

test("bad model folders give one-line errors naming the file", () => {
  const isUser = (re: RegExp) => (e: unknown) => e instanceof UserError && re.test(e.message);
  const dir = tempDir();
  assert.throws(() => loadModel(path.join(dir, "nope")), isUser(/nope: model folder not found/));
  assert.throws(() => loadModel(dir), isUser(/config\.json: missing/));
  fs.writeFileSync(path.join(dir, CONFIG_FILE), "{oops");
  assert.throws(() => loadModel(dir), isUser(/config\.json: not valid JSON/));
  fs.writeFileSync(path.join(dir, CONFIG_FILE), JSON.stringify({ ...folderCfg(), format: "other" }));
  assert.throws(() => loadModel(dir), isUser(/config\.json: not a nerveseg model config: format/));
  fs.writeFileSync(path.join(dir, CONFIG_FILE), JSON.stringify(folderCfg({ ...modelCfg, inputHeight: 17 })));
  assert.throws(() => loadModel(dir), isUser(/config\.json: model: input 17x16 must be divisible by 2/));
  fs.writeFileSync(path.join(dir, CONFIG_FILE), JSON.stringify(folderCfg()));
  assert.throws(() => loadModel(dir), isUser(/model\.safetensors: missing/));
  // Weights of another architecture (wider filters) under this config.
  const other = new UNet({ ...modelCfg, filters: [6, 8] }, { mean: 0, std: 1 }, new E.Rng(1));
  const otherDir = tempDir();
  saveModel(otherDir, other, folderCfg({ ...modelCfg, filters: [6, 8] }), { epoch: 1, valLoss: 1 });
  fs.copyFileSync(path.join(otherDir, WEIGHTS_FILE), path.join(dir, WEIGHTS_FILE));
  assert.throws(
    () => loadModel(dir),
    isUser(
      /model\.safetensors: tensor encoder\.level0\.a\.conv\.weight has shape \[3, 3, 1, 6\], config\.json \(preset "tiny"\) wants \[3, 3, 1, 4\]/,
    ),
  );
  // Weights without the presence head under a config that has one.
  const noHead = new UNet({ ...modelCfg, presenceHead: false }, { mean: 0, std: 1 }, new E.Rng(1));
  saveModel(otherDir, noHead, folderCfg({ ...modelCfg, presenceHead: false }), { epoch: 1, valLoss: 1 });
  fs.copyFileSync(path.join(otherDir, WEIGHTS_FILE), path.join(dir, WEIGHTS_FILE));
  assert.throws(() => loadModel(dir), isUser(/missing tensor presenceHead\.conv\.weight/));
  fs.writeFileSync(path.join(dir, WEIGHTS_FILE), "garbage");
  assert.throws(() => loadModel(dir), isUser(/model\.safetensors: not a valid safetensors file/));
  other.dispose();
  noHead.dispose();
});
