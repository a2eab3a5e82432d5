import fs from "node:fs";
import path from "node:path";

/** A temp path beside `target`, so the final rename stays on one file system. */
export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${Date.now()}`);
}

/** Writes a whole file so readers see either the old content or the new, never half of it. */
export function writeFileAtomic(target: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * A file written in pieces (streamed) that appears under its name only on commit();
 * abort() (or a crash before commit) leaves at most a dot-temp file, never a partial target.
 */
export class AtomicFileWriter {
  readonly tmp: string;
  private fd: number | null;

  constructor(readonly target: string) {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    this.tmp = tempPathFor(target);
    this.fd = fs.openSync(this.tmp, "w");
  }

  write(chunk: string | Uint8Array): void {
    if (this.fd === null) throw new Error(`${this.target}: write after close`);
    if (typeof chunk === "string") fs.writeSync(this.fd, chunk);
    else {
      let off = 0;
      while (off < chunk.length) off += fs.writeSync(this.fd, chunk, off, chunk.length - off);
    }
  }

  /** Writes at an absolute position (e.g. to patch a header once the size is known). */
  writeAt(chunk: Uint8Array, position: number): void {
    if (this.fd === null) throw new Error(`${this.target}: write after close`);
    fs.writeSync(this.fd, chunk, 0, chunk.length, position);
  }

  commit(): void {
    if (this.fd === null) throw new Error(`${this.target}: already closed`);
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    this.fd = null;
    fs.renameSync(this.tmp, this.target);
  }

  abort(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
    fs.rmSync(this.tmp, { force: true });
  }
}
