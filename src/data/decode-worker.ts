// Decodes one image file (and its masks) per message, off the main thread, so prepare and predict use
// every core (the work itself: decode-job.ts).
import { parentPort, workerData } from "node:worker_threads";
import { setDecodeLimits, type DecodeLimits } from "../io/limits.js";
import { decode, type DecodeJob, type DecodeResult } from "./decode-job.js";

// The limits of the thread that started the pool (module state is per thread).
setDecodeLimits((workerData as { limits: DecodeLimits }).limits);

parentPort!.on("message", (job: DecodeJob) => {
  decode(job).then(
    (frames) => {
      const result: DecodeResult = { index: job.index, ok: true, frames };
      // Copies, so that no frame shares a buffer with another (the decoder may hand out views).
      const owned = frames.map((f) => ({ ...f, image: f.image.slice(), mask: f.mask && f.mask.slice() }));
      const transfer: ArrayBuffer[] = [];
      for (const f of owned) {
        transfer.push(f.image.buffer as ArrayBuffer);
        if (f.mask) transfer.push(f.mask.buffer as ArrayBuffer);
      }
      parentPort!.postMessage({ ...result, frames: owned }, transfer);
    },
    (e: unknown) => {
      parentPort!.postMessage({
        index: job.index,
        ok: false,
        error: (e as Error).message,
      } satisfies DecodeResult);
    },
  );
});
