import { constants as bufferConstants } from "node:buffer";
import fs from "node:fs";
import { fileError, UserError } from "../core/errors.js";
import { checkRegularFile, readRegularFileSync } from "./read-file.js";

/** numpy dtype strings we read and write (little-endian). */
export type NpyDtype = "|u1" | "<f4";

const MAGIC = Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

function bytesPerItem(dtype: NpyDtype): number {
  return dtype === "|u1" ? 1 : 4;
}

/**
 * A .npy v1.0 header for a C-order array. Padded with spaces so the data starts on a 64-byte boundary,
 * as numpy itself does (lets readers memory-map it aligned).
 */
export function encodeNpyHeader(dtype: NpyDtype, shape: number[], minLength = 0): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let dict = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // minLength lets a streaming writer reserve room and patch the shape in place once the count is known.
  const unpadded = Math.max(MAGIC.length + 2 + 2 + dict.length + 1, minLength);
  dict +=
    " ".repeat(unpadded - (MAGIC.length + 2 + 2 + dict.length + 1) + ((64 - (unpadded % 64)) % 64)) + "\n";
  if (dict.length > 0xffff) throw new Error("npy header too long");
  const out = new Uint8Array(MAGIC.length + 4 + dict.length);
  out.set(MAGIC, 0);
  out[6] = 1; // major version
  out[7] = 0;
  out[8] = dict.length & 0xff;
  out[9] = dict.length >> 8;
  for (let i = 0; i < dict.length; i++) out[10 + i] = dict.charCodeAt(i);
  return out;
}

export interface NpyHeader {
  dtype: NpyDtype;
  shape: number[];
  /** Byte offset of the first element. */
  dataOffset: number;
}

/** Parses the header of a .npy file (v1 or v2) from its first bytes. */
export function decodeNpyHeader(bytes: Uint8Array, file: string): NpyHeader {
  if (bytes.length < 10 || !MAGIC.every((b, i) => bytes[i] === b))
    throw fileError(file, "not a .npy file (bad magic)");
  const major = bytes[6];
  const lenBytes = major === 1 ? 2 : 4;
  if (major !== 1 && major !== 2 && major !== 3) throw fileError(file, `unsupported .npy version ${major}`);
  let headerLen = 0;
  for (let i = 0; i < lenBytes; i++) headerLen += bytes[8 + i] * 2 ** (8 * i);
  const start = 8 + lenBytes;
  if (bytes.length < start + headerLen) throw fileError(file, "truncated .npy header");
  const text = Buffer.from(bytes.subarray(start, start + headerLen)).toString("latin1");
  const descr = /'descr':\s*'([^']+)'/.exec(text)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    throw fileError(file, "malformed .npy header");
  if (descr !== "|u1" && descr !== "<f4")
    throw fileError(file, `unsupported dtype ${descr} (want |u1 or <f4)`);
  if (fortran === "True") throw fileError(file, "Fortran-order arrays are not supported");
  const shape = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw fileError(file, `bad shape (${shapeText})`);
  return { dtype: descr, shape, dataOffset: start + headerLen };
}

/** .npy files are regular files of any size (read in rows, or whole when small enough for one buffer). */
const NPY_LIMIT = { maxBytes: Number.MAX_SAFE_INTEGER, reason: "", what: "a .npy file" };

/** Reads just the header of a .npy file on disk (a regular file: a FIFO is refused before it is opened). */
export function readNpyHeader(file: string): NpyHeader {
  checkRegularFile(file, NPY_LIMIT);
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    throw fileError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    const head = Buffer.alloc(4096);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    const header = decodeNpyHeader(head.subarray(0, n), file);
    const expected = header.dataOffset + header.shape.reduce((a, b) => a * b, 1) * bytesPerItem(header.dtype);
    const size = fs.fstatSync(fd).size;
    if (size !== expected) throw fileError(file, `size ${size} bytes, header says ${expected}`);
    return header;
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw fileError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  } finally {
    fs.closeSync(fd);
  }
}

/** A whole .npy array in memory. */
export function readNpy(file: string): { header: NpyHeader; data: Uint8Array | Float32Array } {
  const header = readNpyHeader(file);
  const bytes = readRegularFileSync(file, {
    maxBytes: bufferConstants.MAX_LENGTH,
    reason: "the most one buffer holds",
    what: "a .npy file",
  });
  const raw = bytes.subarray(header.dataOffset);
  if (header.dtype === "|u1") return { header, data: new Uint8Array(raw.buffer, raw.byteOffset, raw.length) };
  const f = new Float32Array(raw.length / 4);
  new Uint8Array(f.buffer).set(raw);
  return { header, data: f };
}

/**
 * Random access to rows (the first axis) of a uint8 .npy without loading it: training reads a batch of
 * frames at a time, so the data set is never held (or duplicated) in memory.
 */
export class NpyRowReader {
  readonly header: NpyHeader;
  readonly rowBytes: number;
  readonly rows: number;
  private fd: number;

  constructor(readonly file: string) {
    this.header = readNpyHeader(file);
    if (this.header.dtype !== "|u1") throw fileError(file, `expected uint8 data, found ${this.header.dtype}`);
    this.rows = this.header.shape[0] ?? 0;
    this.rowBytes = this.header.shape.slice(1).reduce((a, b) => a * b, 1);
    this.fd = fs.openSync(file, "r");
  }

  /** Reads row i into `out` (allocated when not given). */
  read(i: number, out = new Uint8Array(this.rowBytes)): Uint8Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.rows) throw fileError(this.file, `row ${i} out of range`);
    const n = fs.readSync(this.fd, out, 0, this.rowBytes, this.header.dataOffset + i * this.rowBytes);
    if (n !== this.rowBytes) throw fileError(this.file, `short read at row ${i}`);
    return out;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
