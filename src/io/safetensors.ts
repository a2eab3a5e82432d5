import { constants as bufferConstants } from "node:buffer";
import { fileError } from "../core/errors.js";
import { writeFileAtomic } from "./atomic.js";
import { readRegularFileSync } from "./read-file.js";

/*
 * safetensors (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N, N bytes
 * of UTF-8 JSON `{"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
 * "__metadata__": {"key": "value"}}` padded with spaces so the data starts 8-byte aligned, then the raw
 * little-endian tensor bytes, offsets relative to the start of the data. Only F32 is used by nerveseg.
 */

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export interface Safetensors {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const MAX_HEADER = 100_000_000; // the reference implementation's limit; guards against garbage lengths
/** Weights and checkpoints are read whole: up to what one buffer holds (the largest preset's take 1 GiB). */
export const MAX_SAFETENSORS_BYTES = Math.min(4 * 2 ** 30, bufferConstants.MAX_LENGTH);

/** Writes tensors (in the order given) and optional string metadata, atomically. */
export function writeSafetensors(
  file: string,
  tensors: Record<string, Tensor>,
  metadata?: Record<string, string>,
): void {
  writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}

/** The bytes of a safetensors file. */
export function encodeSafetensors(
  tensors: Record<string, Tensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const names = Object.keys(tensors);
  for (const name of names) {
    if (name === "__metadata__") throw new Error(`safetensors: "__metadata__" is not a valid tensor name`);
    const { shape, data } = tensors[name];
    const count = shape.reduce((a, b) => a * b, 1);
    if (!shape.every((d) => Number.isInteger(d) && d >= 0) || count !== data.length) {
      throw new Error(`safetensors: tensor "${name}" has shape [${shape}] but ${data.length} values`);
    }
    header[name] = { dtype: "F32", shape, data_offsets: [offset, offset + data.length * 4] };
    offset += data.length * 4;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const name of names) {
    const d = tensors[name].data;
    if (LITTLE_ENDIAN) out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), pos);
    else {
      const dv = new DataView(out.buffer, pos);
      for (let i = 0; i < d.length; i++) dv.setFloat32(i * 4, d[i], true);
    }
    pos += d.byteLength;
  }
  return out;
}

/**
 * Reads a safetensors file of F32 tensors; a malformed file throws a UserError naming it, and so does
 * anything but a regular file (a symlink to /dev/zero is read no further than its type).
 */
export function readSafetensors(file: string): Safetensors {
  const bytes = readRegularFileSync(file, {
    maxBytes: MAX_SAFETENSORS_BYTES,
    reason: "the limit for a weights file",
    what: "a safetensors file",
  });
  return decodeSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), file);
}

/** Parses safetensors bytes; `name` is the file named in errors. */
export function decodeSafetensors(bytes: Uint8Array, name = "<safetensors>"): Safetensors {
  const fail = (problem: string) => fileError(name, `not a valid safetensors file: ${problem}`);
  if (bytes.length < 8) throw fail(`truncated (${bytes.length} bytes, the header length alone takes 8)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = dv.getBigUint64(0, true);
  if (headerLen > BigInt(MAX_HEADER)) throw fail(`header length ${headerLen} is implausible`);
  const n = Number(headerLen);
  if (8 + n > bytes.length)
    throw fail(`truncated (header says ${n} bytes, file has ${bytes.length - 8} after it)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw fail(`header is not JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw fail("header is not a JSON object");
  }
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const tensors: Record<string, Tensor> = {};
  const spans: [number, number, string][] = [];
  for (const [key, value] of Object.entries(header as Record<string, unknown>)) {
    if (key === "__metadata__") {
      if (typeof value !== "object" || value === null || Array.isArray(value))
        throw fail("__metadata__ is not an object");
      for (const [mk, mv] of Object.entries(value)) {
        if (typeof mv !== "string") throw fail(`__metadata__.${mk} is not a string`);
        metadata[mk] = mv;
      }
      continue;
    }
    const info = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof info !== "object" || info === null) throw fail(`tensor "${key}" has no description`);
    if (info.dtype !== "F32")
      throw fail(`tensor "${key}" has dtype ${JSON.stringify(info.dtype)} (only F32 is supported)`);
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw fail(`tensor "${key}" has a bad shape ${JSON.stringify(shape)}`);
    }
    const offs = info.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0)) {
      throw fail(`tensor "${key}" has bad data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    if (begin > end || end > dataLen) {
      throw fail(`tensor "${key}" data_offsets [${begin}, ${end}] out of range (data is ${dataLen} bytes)`);
    }
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== count * 4) {
      throw fail(`tensor "${key}" has ${end - begin} bytes for shape [${shape}] (want ${count * 4})`);
    }
    // Copy into a fresh (aligned) Float32Array: the data may sit at any byte offset of the file buffer.
    const at = bytes.byteOffset + dataStart + begin;
    let data: Float32Array;
    if (LITTLE_ENDIAN) data = new Float32Array(bytes.buffer.slice(at, at + count * 4));
    else {
      data = new Float32Array(count);
      const src = new DataView(bytes.buffer, at, count * 4);
      for (let i = 0; i < count; i++) data[i] = src.getFloat32(i * 4, true);
    }
    tensors[key] = { shape: shape as number[], data };
    spans.push([begin, end, key]);
  }
  // The format requires tensors to tile the data section without gaps or overlaps.
  spans.sort((a, b) => a[0] - b[0]);
  let expect = 0;
  for (const [begin, end, key] of spans) {
    if (begin !== expect)
      throw fail(`tensor "${key}" starts at ${begin}, expected ${expect} (gap or overlap)`);
    expect = end;
  }
  if (expect !== dataLen) throw fail(`${dataLen - expect} bytes after the last tensor`);
  return { tensors, metadata };
}
