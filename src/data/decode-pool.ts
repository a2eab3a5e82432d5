import os from "node:os";
import { Worker } from "node:worker_threads";
import { decodeLimits } from "../io/limits.js";
import type { DecodeJob, DecodeResult } from "./decode-job.js";
export type { DecodedFrameOut, DecodeJob, DecodeResult } from "./decode-job.js";

/**
 * Decodes jobs on worker threads and hands results back strictly in job order, holding at most
 * `window` decoded frames at once, so memory stays flat however many images there are. The workers decode
 * under this thread's decode limits (src/io/limits.ts). An interruption (Ctrl-C, SIGTERM: the CLI exits the
 * process) ends them mid-file: they hold nothing on disk, and their decodes pause between frames.
 */
export async function decodeInOrder(
  jobs: DecodeJob[],
  onResult: (r: DecodeResult) => void,
  workers = Math.max(1, Math.min(os.availableParallelism(), 8)),
  window = 32,
): Promise<void> {
  if (jobs.length === 0) return;
  const pool = Array.from(
    { length: Math.min(workers, jobs.length) },
    () =>
      new Worker(new URL("./decode-worker.js", import.meta.url), { workerData: { limits: decodeLimits() } }),
  );
  const done = new Map<number, DecodeResult>();
  let nextToSend = 0;
  let nextToEmit = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const send = (w: Worker): void => {
        if (nextToSend < jobs.length && nextToSend - nextToEmit < window) w.postMessage(jobs[nextToSend++]);
        else idle.push(w);
      };
      const idle: Worker[] = [];
      for (const w of pool) {
        w.on("error", reject);
        w.on("message", (r: DecodeResult) => {
          done.set(r.index, r);
          try {
            while (done.has(nextToEmit)) {
              const ready = done.get(nextToEmit)!;
              done.delete(nextToEmit++);
              onResult(ready);
            }
          } catch (e) {
            reject(e);
            return;
          }
          if (nextToEmit === jobs.length) return resolve();
          send(w);
          while (idle.length > 0 && nextToSend < jobs.length && nextToSend - nextToEmit < window)
            send(idle.pop()!);
        });
        send(w);
      }
    });
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
}
