/** Worker entry for `synthesize`: renders and writes its share of the planned frames. */
import { parentPort, workerData } from "node:worker_threads";
import type { PlannedFrame } from "./synth-plan.js";
import type { SceneSpec } from "./synth-scene.js";
import { writeFrames } from "./synth-write.js";

export interface SynthWorkerData {
  out: string;
  scenes: SceneSpec[];
  frames: PlannedFrame[];
}

const job = workerData as SynthWorkerData;
writeFrames(job.out, job.scenes, job.frames, (r) => parentPort!.postMessage(r));
