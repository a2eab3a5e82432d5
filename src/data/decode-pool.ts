import os from "node:os";
import { Worker } from "node:worker_threads";

/** One image file (and its masks) to decode on a worker. */
export interface DecodeJob {
  index: number;
  image: string;
  /** Mask files of the image, merged by union; empty = no target (an all-zero mask); null = no mask wanted. */
  masks: string[] | null;
  /** Bring every frame to this size (area resize; masks by covered fraction >= 0.5); null = keep its own. */
  width: number | null;
  height: number | null;
  /** A frame of another size than width x height is an error instead (the Kaggle layout: all 580x420). */
  exact?: boolean;
  /** Pick one value of a label-map mask as the foreground. */
  maskLabel?: number;
  /** Frames of a multi-frame file (DICOM cine, multi-page TIFF): all, the first, or an error. */
  frames: "all" | "first" | "refuse-multi";
}

/** One decoded frame: 8-bit grey at the job's size, its own size, and its mask's statistics. */
export interface DecodedFrameOut {
  /** The file's base name, or `name#k` for frame k of a multi-frame file. */
  name: string;
  width: number;
  height: number;
  image: Uint8Array;
  /** The frame's size in the file. */
  ownWidth: number;
  ownHeight: number;
  /** 0/1 at width x height (null when the job asked for none). */
  mask: Uint8Array | null;
  /** Foreground pixels of `mask`. */
  area: number;
  mean: number;
  std: number;
}

export type DecodeResult =
  { index: number; ok: true; frames: DecodedFrameOut[] } | { index: number; ok: false; error: string };

/**
 * Decodes jobs on worker threads and hands results back strictly in job order, holding at most
 * `window` decoded frames at once, so memory stays flat however many images there are.
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
    () => new Worker(new URL("./decode-worker.js", import.meta.url)),
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
