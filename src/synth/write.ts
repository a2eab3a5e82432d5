/** Renders planned frames and writes them in the Kaggle layout; shared by the main thread and the workers. */
import path from "node:path";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../io/image.js";
import { encodeRle } from "../io/rle.js";
import { writeTiff } from "../io/tiff.js";
import type { PlannedFrame } from "./plan.js";
import { renderFrame } from "./render.js";
import { buildScene, type SceneSpec, type SynthScene } from "./scene.js";

export interface FrameResult {
  kind: "train" | "test";
  name: string;
  /** Mask area in px (0 when unlabelled). */
  area: number;
  /** Kaggle RLE of the mask, for test frames (their masks go to test_masks.csv, not to files). */
  rle?: string;
}

/** Writes `frames` (in order; frames of one scene should be adjacent so each scene is built once). */
export function writeFrames(
  out: string,
  scenes: SceneSpec[],
  frames: PlannedFrame[],
  onFrame: (r: FrameResult) => void,
): void {
  let sceneIndex = -1;
  let scene: SynthScene | null = null;
  for (const f of frames) {
    if (f.scene !== sceneIndex || !scene) {
      sceneIndex = f.scene;
      scene = buildScene(scenes[f.scene]);
    }
    const { image, mask } = renderFrame(scene, f.params);
    let area = 0;
    for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) area++;
    if (f.kind === "train") {
      writeTiff(path.join(out, "train", `${f.name}.tif`), image);
      writeTiff(path.join(out, "train", `${f.name}_mask.tif`), {
        width: image.width,
        height: image.height,
        data: mask,
      });
      onFrame({ kind: f.kind, name: f.name, area });
    } else {
      writeTiff(path.join(out, "test", `${f.name}.tif`), image);
      onFrame({ kind: f.kind, name: f.name, area, rle: encodeRle(mask, KAGGLE_WIDTH, KAGGLE_HEIGHT) });
    }
  }
}
