import fs from "node:fs";
import path from "node:path";
import { fileError, UserError } from "../core/errors.js";

/*
 * Every temp file or staging folder alive in this process is registered here, so an interrupted command
 * (Ctrl-C, SIGTERM, a closed pipe; see src/cli/main.ts) can remove them all before it exits: nothing
 * half-written and no hidden leftovers.
 */
const live = new Set<string>();

/** Registers a temp path (file or folder) until the returned function is called. */
export function trackTemp(p: string): () => void {
  live.add(p);
  return () => void live.delete(p);
}

/** Removes every registered temp path (on interruption). Returns how many there were. */
export function removeLiveTemps(): number {
  const n = live.size;
  for (const p of live) fs.rmSync(p, { recursive: true, force: true });
  live.clear();
  return n;
}

/** A write error as one line naming the file: "out/x.npy: cannot write: no space left on device (ENOSPC)". */
export function writeError(target: string, e: unknown): UserError {
  if (e instanceof UserError) return e;
  const err = e as NodeJS.ErrnoException;
  const reason: Record<string, string> = {
    ENOSPC: "no space left on device",
    EDQUOT: "disk quota exceeded",
    EACCES: "permission denied",
    EROFS: "read-only file system",
    EISDIR: "is a folder",
    ENOTDIR: "a parent is not a folder",
  };
  const code = err.code ?? "";
  return fileError(
    target,
    `cannot write: ${reason[code] ?? err.message ?? String(e)}${code ? ` (${code})` : ""}`,
  );
}

/** Whether a process with this pid is alive (EPERM: alive, someone else's). */
function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Temp names carry their owner's pid: `.<name>.tmp-<pid>-<ms>` and `.nerveseg-tmp-<pid>-<ms>`. */
const TEMP_NAME = /^\.(?:.+\.tmp|nerveseg-tmp)-(\d+)-\d+$/;
const swept = new Set<string>();

/**
 * Removes the temp files and staging folders in `dir` whose process is gone (a SIGKILL or a power cut
 * leaves them: no handler runs). Once per folder per process; a live owner's temps are left alone.
 */
export function sweepStaleTemps(dir: string): number {
  const key = path.resolve(dir);
  if (swept.has(key)) return 0;
  swept.add(key);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return 0;
  }
  let n = 0;
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    n++;
  }
  return n;
}

/** A temp path beside `target`, so the final rename stays on one file system. */
export function tempPathFor(target: string): string {
  sweepStaleTemps(path.dirname(target));
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${Date.now()}`);
}

export const LOCK_FILE = ".nerveseg.lock";

/**
 * Claims an output folder for this process (`<dir>/.nerveseg.lock` holding its pid and what it does):
 * a second writer is refused with a line naming the first; a lock whose process is gone is taken over.
 * Returns the release function (also run on interruption, like the temps).
 */
export function lockFolder(dir: string, what: string): () => void {
  const file = path.join(dir, LOCK_FILE);
  fs.mkdirSync(dir, { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid} ${what}\n`, { flag: "wx" });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw writeError(file, e);
      const [pid, ...rest] = fs.readFileSync(file, "utf8").trim().split(" ");
      if (alive(Number(pid)) && Number(pid) !== process.pid)
        throw fileError(
          dir,
          `in use by process ${pid} (${rest.join(" ") || "nerveseg"}); wait for it to finish, or choose another folder`,
        );
      fs.rmSync(file, { force: true });
    }
  }
  const untrack = trackTemp(file);
  return () => {
    untrack();
    fs.rmSync(file, { force: true });
  };
}

/** Writes a whole file so readers see either the old content or the new, never half of it. */
export function writeFileAtomic(target: string, data: string | Uint8Array): void {
  const tmp = tempPathFor(target);
  const untrack = trackTemp(tmp);
  try {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw writeError(target, e);
  } finally {
    untrack();
  }
}

/**
 * A file written in pieces (streamed) that appears under its name only on commit();
 * abort() (or a crash before commit) leaves at most a dot-temp file, never a partial target.
 */
export class AtomicFileWriter {
  readonly tmp: string;
  private fd: number | null;
  private readonly untrack: () => void;

  constructor(readonly target: string) {
    this.tmp = tempPathFor(target);
    this.untrack = trackTemp(this.tmp);
    try {
      fs.mkdirSync(path.dirname(target), { recursive: true });
      this.fd = fs.openSync(this.tmp, "w");
    } catch (e) {
      this.untrack();
      throw writeError(target, e);
    }
  }

  /** Runs a file operation; an error (disk full, ...) aborts the file and names the target. */
  private io<T>(op: () => T): T {
    try {
      return op();
    } catch (e) {
      this.abort();
      throw writeError(this.target, e);
    }
  }

  write(chunk: string | Uint8Array): void {
    const fd = this.fd;
    if (fd === null) throw new Error(`${this.target}: write after close`);
    this.io(() => {
      if (typeof chunk === "string") fs.writeSync(fd, chunk);
      else {
        let off = 0;
        while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
      }
    });
  }

  /** Writes at an absolute position (e.g. to patch a header once the size is known). */
  writeAt(chunk: Uint8Array, position: number): void {
    const fd = this.fd;
    if (fd === null) throw new Error(`${this.target}: write after close`);
    this.io(() => fs.writeSync(fd, chunk, 0, chunk.length, position));
  }

  commit(): void {
    const fd = this.fd;
    if (fd === null) throw new Error(`${this.target}: already closed`);
    this.io(() => {
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      this.fd = null;
      fs.renameSync(this.tmp, this.target);
    });
    this.untrack();
  }

  abort(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
    fs.rmSync(this.tmp, { force: true });
    this.untrack();
  }
}

/**
 * A folder output (many files) that appears all at once: files are written into a hidden staging folder
 * inside `out`, and commit() moves them into place (each rename atomic; files of an earlier run with
 * other names stay). abort(), an error or an interruption leaves `out` as it was.
 */
export class StagedFolder {
  readonly stage: string;
  private readonly untrack: () => void;

  constructor(readonly out: string) {
    sweepStaleTemps(out);
    this.stage = path.join(out, `.nerveseg-tmp-${process.pid}-${Date.now()}`);
    this.untrack = trackTemp(this.stage);
    try {
      fs.mkdirSync(this.stage, { recursive: true });
    } catch (e) {
      this.untrack();
      throw writeError(out, e);
    }
  }

  /** Writes one file (path relative to the output folder) into the staging folder. */
  write(rel: string, data: string | Uint8Array): void {
    const file = path.join(this.stage, rel);
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, data);
    } catch (e) {
      throw writeError(path.join(this.out, rel), e);
    }
  }

  commit(): void {
    for (const rel of fs.readdirSync(this.stage, { recursive: true }) as string[]) {
      const from = path.join(this.stage, rel);
      if (!fs.statSync(from).isFile()) continue;
      const to = path.join(this.out, rel);
      try {
        fs.mkdirSync(path.dirname(to), { recursive: true });
        fs.renameSync(from, to);
      } catch (e) {
        throw writeError(to, e);
      }
    }
    this.abort();
  }

  abort(): void {
    fs.rmSync(this.stage, { recursive: true, force: true });
    this.untrack();
  }
}
