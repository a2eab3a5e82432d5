// Worker thread that builds training batches (gather + augment + normalise) while the main thread is
// busy in native compute. It gets the BatchContext (shared frame arrays) once, then batch specs.
import { parentPort, workerData } from "node:worker_threads";
import { buildBatch, type BatchContext, type BatchSpec } from "./batches.js";

const ctx = workerData as BatchContext;

parentPort!.on("message", (m: { id: number; spec: BatchSpec }) => {
  try {
    const batch = buildBatch(ctx, m.spec);
    parentPort!.postMessage({ id: m.id, batch }, [
      batch.x.buffer,
      batch.y.buffer,
      batch.has.buffer,
    ] as ArrayBuffer[]);
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: (e as Error).message });
  }
});
