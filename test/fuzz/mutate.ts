/**
 * A seeded mutator of fixtures (fixtures.ts): bit flips, truncations, header field edits (sizes, frame counts,
 * compression, offsets and lengths set to values that break decoders: 0, 1, the type's maximum, a multiple of
 * the old value), duplicated chunks and spans, overwritten and inserted bytes; one to three of them per mutant.
 * The same seed gives the same mutants, so a failure names a mutant that can be made again.
 */
import { Rng } from "../../src/core/random.js";
import type { Field, Fixture, FuzzFormat } from "./fixtures.js";

export interface Mutant {
  format: FuzzFormat;
  /** `<fixture>~<k>`: the fixture it came from and its number. */
  name: string;
  bytes: Uint8Array;
  /** What was done, for a failure message: "field height=65535; truncate 120". */
  how: string;
}

function readField(b: Uint8Array, f: Field): number {
  if (f.text) {
    const s = String.fromCharCode(...b.subarray(f.at, f.at + f.size)).trim();
    return /^\d+$/.test(s) ? Number(s) : 0;
  }
  let v = 0;
  for (let i = 0; i < f.size; i++) {
    const byte = b[f.at + (f.littleEndian ? i : f.size - 1 - i)] ?? 0;
    v += byte * 2 ** (8 * i);
  }
  return v;
}

function writeField(b: Uint8Array, f: Field, value: number): void {
  if (f.text) {
    const s = String(value).slice(0, f.size).padEnd(f.size, " ");
    for (let i = 0; i < f.size && f.at + i < b.length; i++) b[f.at + i] = s.charCodeAt(i);
    return;
  }
  let v = BigInt(value);
  for (let i = 0; i < f.size; i++) {
    const at = f.at + (f.littleEndian ? i : f.size - 1 - i);
    if (at < b.length) b[at] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** A value that breaks decoders, for a field holding `old`. */
function interesting(old: number, f: Field, rng: Rng): number {
  const max = f.text ? 10 ** f.size - 1 : f.size === 8 ? Number.MAX_SAFE_INTEGER : 2 ** (8 * f.size) - 1;
  const picks = [
    0,
    1,
    2,
    3,
    7,
    8,
    15,
    16,
    255,
    256,
    1000,
    4096,
    10_000,
    65_535,
    65_536,
    0x7fffffff,
    max,
    max - 1,
    old + 1,
    old - 1,
    old * 2,
    old * 16,
    old * 256,
    old * 4096,
    rng.int(max + 1),
  ];
  const v = picks[rng.int(picks.length)]!;
  return Math.max(0, Math.min(max, Math.floor(v)));
}

/** One mutation of `b`, in place where it can be; returns the bytes and what it did. */
function mutateOnce(b: Uint8Array, fx: Fixture, rng: Rng): { bytes: Uint8Array; how: string } {
  // Header edits most often: they are what asks a decoder for work.
  const kinds =
    fx.fields.length > 0
      ? ["field", "field", "field", "flip", "truncate", "dup", "chunk", "overwrite", "insert"]
      : ["flip", "flip", "truncate", "dup", "overwrite", "insert"];
  const kind = kinds[rng.int(kinds.length)]!;
  const pos = (): number => (rng.uniform() < 0.5 ? rng.int(Math.min(b.length, 256)) : rng.int(b.length));
  switch (kind) {
    case "field": {
      const f = fx.fields[rng.int(fx.fields.length)]!;
      const v = interesting(readField(b, f), f, rng);
      writeField(b, f, v);
      return { bytes: b, how: `field ${f.name}=${v}` };
    }
    case "flip": {
      const n = 1 + rng.int(8);
      const at: number[] = [];
      for (let i = 0; i < n; i++) {
        const p = pos();
        b[p] = b[p]! ^ (1 << rng.int(8));
        at.push(p);
      }
      return { bytes: b, how: `flip ${at.join(",")}` };
    }
    case "truncate": {
      const at = pos();
      return { bytes: b.slice(0, at), how: `truncate ${at}` };
    }
    case "dup": {
      // A span repeated 1 to 64 times where it was: frames, strips, elements come back many times.
      const from = pos();
      const len = 1 + rng.int(Math.min(512, b.length - from));
      const times = rng.uniform() < 0.7 ? 1 : 1 + rng.int(64);
      const span = b.subarray(from, from + len);
      const out = new Uint8Array(b.length + len * times);
      out.set(b.subarray(0, from + len));
      for (let t = 0; t < times; t++) out.set(span, from + len * (t + 1));
      out.set(b.subarray(from + len), from + len * (times + 1));
      return { bytes: out, how: `dup ${from}+${len}x${times}` };
    }
    case "chunk": {
      // A whole chunk, segment or element again (the ones whose length field is known).
      const lengths = fx.fields.filter((f) => f.name.endsWith(".length") && f.at < b.length);
      if (lengths.length === 0) return mutateOnce(b, { ...fx, fields: [] }, rng);
      const f = lengths[rng.int(lengths.length)]!;
      const start = Math.max(0, f.at - (fx.format === "png" ? 0 : 2));
      const len = Math.min(b.length - start, readField(b, f) + 12);
      const out = new Uint8Array(b.length + len);
      out.set(b.subarray(0, start + len));
      out.set(b.subarray(start, start + len), start + len);
      out.set(b.subarray(start + len), start + 2 * len);
      return { bytes: out, how: `chunk ${f.name} twice` };
    }
    case "overwrite": {
      const from = pos();
      const len = 1 + rng.int(Math.min(64, b.length - from));
      const fill = [0, 0xff, -1][rng.int(3)]!;
      for (let i = from; i < from + len; i++) b[i] = fill < 0 ? rng.int(256) : fill;
      return { bytes: b, how: `overwrite ${from}+${len} with ${fill < 0 ? "noise" : fill}` };
    }
    default: {
      const at = pos();
      const len = 1 + rng.int(32);
      const out = new Uint8Array(b.length + len);
      out.set(b.subarray(0, at));
      for (let i = 0; i < len; i++) out[at + i] = rng.int(256);
      out.set(b.subarray(at), at + len);
      return { bytes: out, how: `insert ${len} at ${at}` };
    }
  }
}

/** One mutant of a fixture: one to three mutations, checksums repaired half the time. */
export function mutate(fx: Fixture, rng: Rng): { bytes: Uint8Array; how: string } {
  // A copy: fixtures from sharp are Buffers, whose slice() is a view.
  let bytes: Uint8Array = new Uint8Array(fx.bytes);
  const hows: string[] = [];
  const n = 1 + rng.int(3);
  for (let i = 0; i < n && bytes.length > 0; i++) {
    const m = mutateOnce(bytes, fx, rng);
    bytes = m.bytes;
    hows.push(m.how);
  }
  if (fx.fixup && rng.uniform() < 0.5) {
    fx.fixup(bytes);
    hows.push("crc fixed");
  }
  return { bytes, how: hows.join("; ") };
}

/** `count` mutants of `fixtures`, round-robin, from `seed`. */
export function* mutants(fixtures: readonly Fixture[], count: number, seed: number): Generator<Mutant> {
  const rng = new Rng(seed);
  for (let k = 0; k < count; k++) {
    const fx = fixtures[k % fixtures.length]!;
    const { bytes, how } = mutate(fx, rng);
    yield { format: fx.format, name: `${fx.name}~${k}`, bytes, how };
  }
}
