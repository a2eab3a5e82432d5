/**
 * Inflating with a cap on the output: a deflate stream can expand 1,032 times, so a few megabytes of input
 * can ask for gigabytes. Both forms stop once the cap is reached instead of allocating what the stream holds.
 */
import zlib from "node:zlib";

export interface Inflated {
  /** The output, at most the cap. */
  data: Buffer;
  /** Whether the stream ended within the cap (false: it held more, and was stopped). */
  complete: boolean;
}

/**
 * Inflates raw deflate data (`raw`) or a zlib stream, asynchronously (zlib works on the thread pool, so
 * signals and other work run meanwhile), stopping after `maxBytes` of output. A corrupt or truncated stream
 * rejects with zlib's error (its `code` says which).
 */
export function inflateUpTo(input: Uint8Array, maxBytes: number, raw = true): Promise<Inflated> {
  return new Promise((resolve, reject) => {
    const chunkSize = Math.max(64 * 1024, Math.min(4 * 2 ** 20, maxBytes + 1));
    const z = raw ? zlib.createInflateRaw({ chunkSize }) : zlib.createInflate({ chunkSize });
    const parts: Buffer[] = [];
    let total = 0;
    let done = false;
    const finish = (complete: boolean): void => {
      if (done) return;
      done = true;
      const data = Buffer.concat(parts, Math.min(total, maxBytes));
      resolve({ data, complete });
    };
    z.on("data", (chunk: Buffer) => {
      if (done) return;
      parts.push(chunk);
      total += chunk.length;
      if (total > maxBytes) {
        finish(false);
        z.destroy();
      }
    });
    z.on("end", () => finish(true));
    z.on("error", (e) => {
      if (done) return;
      done = true;
      reject(e);
    });
    z.end(input);
  });
}

/**
 * The synchronous form, for streams whose exact output size the header gives (a PNG's scanlines): null when
 * the stream holds more than `maxBytes`.
 */
export function inflateSyncUpTo(input: Uint8Array, maxBytes: number): Buffer | null {
  try {
    return zlib.inflateSync(input, { maxOutputLength: Math.max(1, maxBytes) });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") return null;
    throw e;
  }
}
