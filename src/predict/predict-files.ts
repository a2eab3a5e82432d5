/*
 * Predicting any image files (`nerveseg predict --model M a.png b.dcm scans/ --out out/`): for every image,
 * and every frame of a multi-frame file, a mask PNG at the image's own size, an overlay PNG, and one CSV
 * row (id, file, size, presence probability, area, Kaggle RLE at the image's own size). Everything is
 * written into a staging folder and moved into place at the end (io/atomic.ts StagedFolder), so a failed
 * or interrupted run leaves the output folder as it was.
 */
import path from "node:path";
import { fileError, UserError } from "../core/errors.js";
import { noProgress } from "../core/progress.js";
import { decodeInOrder, type DecodedFrameOut, type DecodeJob } from "../data/decode-pool.js";
import { listImageInputs } from "../data/inputs.js";
import * as E from "../engine/index.js";
import { StagedFolder } from "../io/atomic.js";
import { csvLine } from "../io/csv.js";
import { encodeGreyPng, encodePng } from "../io/png.js";
import { overlayRgb } from "../report/overlay.js";
import { encodeRle } from "../io/rle.js";
import { maskArea, placeMap, postprocess } from "../postprocess/mask-rule.js";
import { loadEnsemble, ttaOf } from "../model/model-file.js";
import type { UNet } from "../model/unet.js";
import { applyInferencePrecision, type ModelRunOptions } from "./pipeline.js";
import { predictFrames, type Frame } from "./predictor.js";
import type { FrameBox } from "../data/trim.js";

export interface PredictFilesOptions extends ModelRunOptions {
  /** Files, folders (searched below; mask files left out) and glob patterns. */
  inputs: string[];
  /** Output folder: masks/, overlays/ and predictions.csv. */
  out: string;
  /** Also draw overlays (default true). */
  overlays?: boolean;
  /** Leave out files that cannot be read (listed in the result) instead of stopping at the first. */
  skipBad?: boolean;
}

export interface FilePrediction {
  id: string;
  file: string;
  width: number;
  height: number;
  presence: number;
  area: number;
  rle: string;
}

export interface PredictFilesResult {
  rows: FilePrediction[];
  /** Mask-named files found in the folders given and not predicted. */
  maskFilesLeftOut: number;
  /** With skipBad: the files that could not be read, and why (one line each, naming the file). */
  skipped: { file: string; reason: string }[];
  csv: string;
  /** Whether the four flips were averaged. */
  tta: boolean;
}

export const PREDICTIONS_CSV = "predictions.csv";
const CSV_HEADER = ["id", "file", "width", "height", "presence", "area_px", "pixels"];

/** Frame k of a multi-frame file gets the id `<id>#k`; a single frame keeps the file's id. */
function frameId(id: string, frame: DecodedFrameOut, frames: number): string {
  const hash = frame.name.lastIndexOf("#");
  return frames > 1 && hash >= 0 ? `${id}${frame.name.slice(hash)}` : id;
}

/** Runs a model folder over image files of any format and size; see the file comment for the outputs. */
export async function predictFiles(o: PredictFilesOptions): Promise<PredictFilesResult> {
  // Quiet: the caller says which precision `auto` chose (the CLI calls applyInferencePrecision first).
  const precision = applyInferencePrecision({ ...o, quiet: true });
  const { files, maskFilesLeftOut } = listImageInputs(o.inputs);
  if (o.threads) E.setThreads(o.threads);
  const members = loadEnsemble(o.model, o.log, precision);
  const model = members.map((m) => m.model);
  const { config } = members[0];
  const tta = ttaOf(o.tta, members);
  const stage = new StagedFolder(o.out);
  const bar = (o.progress ?? noProgress)("predict", files.length);
  const rows: FilePrediction[] = [];
  const skipped: { file: string; reason: string }[] = [];
  try {
    const pending: { frame: Frame; file: string; own: DecodedFrameOut }[] = [];
    const flush = (): void => {
      if (pending.length === 0) return;
      const out = predictFrames(
        model,
        pending.map((p) => p.frame),
        tta,
      );
      pending.forEach((p, i) => {
        const row = writeFrame(
          model[0],
          p.frame,
          p.own,
          out.probs[i],
          out.boxes[i],
          out.presence[i],
          config.postprocess,
          stage,
          o.overlays ?? true,
        );
        rows.push({ ...row, file: p.file });
      });
      pending.length = 0;
    };
    const jobs: DecodeJob[] = files.map((f, index) => ({
      index,
      image: f.file,
      masks: null,
      width: null,
      height: null,
      frames: "all",
    }));
    await decodeInOrder(jobs, (r) => {
      const f = files[r.index];
      if (!r.ok) {
        const reason = r.error.replace(`${f.file}: `, "");
        if (!o.skipBad) throw fileError(f.file, reason);
        skipped.push({ file: f.file, reason });
        bar.update(r.index + 1);
        return;
      }
      for (const fr of r.frames) {
        pending.push({
          frame: {
            id: frameId(f.id, fr, r.frames.length),
            image: { width: fr.width, height: fr.height, data: fr.image },
          },
          file: f.file,
          own: fr,
        });
        if (pending.length >= (o.batch ?? 32)) flush();
      }
      bar.update(r.index + 1);
    });
    flush();
    bar.stop();
    if (rows.length === 0)
      throw new UserError(
        `none of the ${files.length} file(s) could be read (first: ${skipped[0]?.file}: ${skipped[0]?.reason})`,
      );
    let csv = csvLine(CSV_HEADER);
    for (const r of rows)
      csv += csvLine([r.id, r.file, r.width, r.height, r.presence.toFixed(6), r.area, r.rle]);
    stage.write(PREDICTIONS_CSV, csv);
    stage.commit();
    return { rows, maskFilesLeftOut, skipped, csv: path.join(o.out, PREDICTIONS_CSV), tta };
  } finally {
    stage.abort();
    for (const m of model) m.dispose();
  }
}

/** Post-processes one frame at its own size and writes its mask and overlay into the staging folder. */
function writeFrame(
  model: UNet,
  frame: Frame,
  own: DecodedFrameOut,
  prob: Float32Array,
  box: FrameBox | null,
  presence: number,
  params: Parameters<typeof postprocess>[2],
  stage: StagedFolder,
  overlays: boolean,
): Omit<FilePrediction, "file"> {
  const { inputWidth: W, inputHeight: H, fit } = model.config;
  const map = placeMap(prob, W, H, fit, box, own);
  const size = { width: own.width, height: own.height };
  const mask = postprocess(map, presence, params, size);
  const id = frame.id;
  const grey = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) grey[i] = mask[i] ? 255 : 0;
  stage.write(path.join("masks", `${id}.png`), encodeGreyPng({ ...size, data: grey }));
  if (overlays)
    stage.write(
      path.join("overlays", `${id}.png`),
      encodePng(overlayRgb(frame.image, null, mask), own.width, own.height),
    );
  return {
    id,
    width: own.width,
    height: own.height,
    presence,
    area: maskArea(mask),
    rle: encodeRle(mask, own.width, own.height),
  };
}
