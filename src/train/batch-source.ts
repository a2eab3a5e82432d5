// Batches built ahead on a worker thread (batch-worker.ts) while the main thread is in native compute, or
// on the main thread (--no-worker); both give the same batches, since each is a function of its spec.
import { Worker } from "node:worker_threads";
import { buildBatch, type Batch, type BatchContext, type BatchSpec } from "./batches.js";

/**
 * Builds batches ahead of use. With a worker, request() posts the job to a worker thread, which runs
 * while the main thread is blocked in native compute; without one, the batch is built on request.
 * Results come back in request order.
 */
export class BatchSource {
  private worker: Worker | null = null;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (b: Batch) => void; reject: (e: Error) => void }>();
  private failure: Error | null = null;

  constructor(
    private readonly ctx: BatchContext,
    useWorker: boolean,
  ) {
    if (useWorker) {
      this.worker = new Worker(new URL("./batch-worker.js", import.meta.url), { workerData: ctx });
      this.worker.on("message", (m: { id: number; batch?: Batch; error?: string }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (this.pending.size === 0) this.worker?.unref();
        if (m.batch) p.resolve(m.batch);
        else p.reject(new Error(`batch worker: ${m.error}`));
      });
      this.worker.on("error", (e) => this.fail(e));
      this.worker.on("exit", (code) => {
        if (this.worker !== null) this.fail(new Error(`batch worker exited with code ${code}`));
      });
      // The worker keeps the process alive only while a batch is pending.
      this.worker.unref();
    }
  }

  private fail(e: Error): void {
    this.failure = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  request(spec: BatchSpec): Promise<Batch> {
    if (this.failure) return Promise.reject(this.failure);
    if (!this.worker) {
      try {
        return Promise.resolve(buildBatch(this.ctx, spec));
      } catch (e) {
        return Promise.reject(e as Error);
      }
    }
    const id = this.nextId++;
    return new Promise<Batch>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker!.ref();
      this.worker!.postMessage({ id, spec });
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}
