/** Worker entry for `synthesize`: renders and writes its share of the planned frames. */
import { parentPort, workerData } from "node:worker_threads";
import type { PlannedFrame } from "./plan.js";
import type { SceneSpec } from "./scene.js";
import { writeFrames } from "./write.js";

export interface SynthWorkerData {
  out: string;
  scenes: SceneSpec[];
  frames: PlannedFrame[];
}

const job = workerData as SynthWorkerData;
writeFrames(job.out, job.scenes, job.frames, (r) => parentPort!.postMessage(r));
