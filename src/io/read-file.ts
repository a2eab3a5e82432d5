/**
 * Whole-file reads with a size cap, of regular files only. `/dev/zero`, a FIFO, a socket or a symlink to one
 * would otherwise be read until memory runs out (or, for a FIFO without a writer, forever): the file is
 * opened non-blocking (a FIFO's open returns at once), its type and size come from the open descriptor (no
 * race with a swapped path), and only then is it read.
 */
import fs from "node:fs";
import { fileError, UserError } from "../core/errors.js";

const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK;

/** Bytes in a human unit, for messages. */
export function byteSize(bytes: number): string {
  if (bytes < 2 ** 10) return `${bytes} bytes`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = bytes / 2 ** 10;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

export interface ReadFileLimit {
  /** The largest file read. */
  maxBytes: number;
  /** Why (and how to raise it), for the refusal: "the largest image within the limits; raise --max-total-pixels". */
  reason: string;
  /** What the file should be, for the refusal of a folder: "an image file". */
  what?: string;
}

function kind(st: fs.Stats): string {
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

/** The one-line refusal of anything that is not a regular file of at most `limit.maxBytes`. */
function checkStat(file: string, st: fs.Stats, limit: ReadFileLimit): void {
  if (st.isDirectory()) throw fileError(file, `is a folder, not ${limit.what ?? "a file"}`);
  if (!st.isFile()) throw fileError(file, `is ${kind(st)}: only regular files are read`);
  if (st.size > limit.maxBytes)
    throw fileError(file, `${byteSize(st.size)}: larger than ${byteSize(limit.maxBytes)} (${limit.reason})`);
}

function openError(file: string, e: unknown): UserError {
  const code = (e as NodeJS.ErrnoException).code;
  return fileError(file, `cannot read (${code ?? String(e)})`);
}

/** Refuses, with one line, a path that is not a regular file (after symlinks) or is over the size limit. */
export function checkRegularFile(file: string, limit: ReadFileLimit): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw openError(file, e);
  }
  checkStat(file, st, limit);
}

/** Reads a whole regular file of at most `limit.maxBytes` (see the module doc). */
export function readRegularFileSync(file: string, limit: ReadFileLimit): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(file, OPEN_FLAGS);
  } catch (e) {
    throw openError(file, e);
  }
  try {
    const st = fs.fstatSync(fd);
    checkStat(file, st, limit);
    const out = Buffer.allocUnsafe(st.size);
    let at = 0;
    while (at < out.length) {
      const got = fs.readSync(fd, out, at, out.length - at, at);
      if (got === 0) break; // shrank while reading: what is there is what there is
      at += got;
    }
    return at === out.length ? out : out.subarray(0, at);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw openError(file, e);
  } finally {
    fs.closeSync(fd);
  }
}

/** The asynchronous readRegularFileSync: other work (and signals) run while a large file comes in. */
export async function readRegularFile(file: string, limit: ReadFileLimit): Promise<Buffer> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, OPEN_FLAGS);
  } catch (e) {
    throw openError(file, e);
  }
  try {
    const st = await fh.stat();
    checkStat(file, st, limit);
    const out = Buffer.allocUnsafe(st.size);
    let at = 0;
    while (at < out.length) {
      const { bytesRead } = await fh.read(out, at, Math.min(out.length - at, 16 * 2 ** 20), at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    return at === out.length ? out : out.subarray(0, at);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw openError(file, e);
  } finally {
    await fh.close();
  }
}

/** Text files (CSV, JSON, manifests) are read whole up to this size. */
export const MAX_TEXT_FILE_BYTES = 512 * 2 ** 20;

/** The cap of text-file reads, for readRegularFileSync. */
export const TEXT_FILE_LIMIT: ReadFileLimit = {
  maxBytes: MAX_TEXT_FILE_BYTES,
  reason: "the limit for a text file",
};
