import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { UserError } from "../../src/core/errors.js";
import { decodeSafetensors, readSafetensors, writeSafetensors } from "../../src/io/safetensors.js";
import { tempDir } from "../helpers/sample.js";

/** A file by hand from the spec: u64 LE header length, JSON header (space padded), raw LE data. */
function handBuilt(header: string, data: number[]): Uint8Array {
  const json = Buffer.from(header, "utf8");
  const out = Buffer.alloc(8 + json.length + data.length);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  Buffer.from(data).copy(out, 8 + json.length);
  return new Uint8Array(out);
}

test("reads a hand-built file from the spec", () => {
  // 1.0f = 00 00 80 3f, -2.0f = 00 00 00 c0, 0.5f = 00 00 00 3f; 2x1 tensor "w", scalar-like [1] "b".
  const header =
    '{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},' +
    '"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}';
  const bytes = handBuilt(header, [0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 0, 0, 0, 0x3f]);
  const st = decodeSafetensors(bytes);
  assert.deepEqual(st.metadata, { format: "pt" });
  assert.deepEqual(st.tensors.w.shape, [2, 1]);
  assert.deepEqual(Array.from(st.tensors.w.data), [1, -2]);
  assert.deepEqual(Array.from(st.tensors.b.data), [0.5]);
});

test("writes exactly the spec layout and round-trips", () => {
  const dir = tempDir();
  const file = path.join(dir, "model.safetensors");
  const w = Float32Array.from({ length: 2 * 3 * 5 * 5 }, (_, i) => Math.sin(i) * 1e-3);
  const tensors = {
    "enc1.conv.weight": { shape: [2, 3, 5, 5], data: w },
    "enc1.conv.bias": { shape: [2], data: Float32Array.from([0.25, -Infinity]) },
    empty: { shape: [0, 4], data: new Float32Array(0) },
  };
  writeSafetensors(file, tensors, { mean: "99.5", std: "50.25" });
  assert.deepEqual(fs.readdirSync(dir), ["model.safetensors"], "no temp file left behind");

  const raw = fs.readFileSync(file);
  const n = Number(raw.readBigUInt64LE(0));
  assert.equal(n % 8, 0, "data starts 8-byte aligned");
  const text = raw.subarray(8, 8 + n).toString("utf8");
  assert.equal(text, text.trimEnd() + " ".repeat(text.length - text.trimEnd().length), "padding is spaces");
  const header = JSON.parse(text);
  assert.deepEqual(header["enc1.conv.weight"], { dtype: "F32", shape: [2, 3, 5, 5], data_offsets: [0, 600] });
  assert.deepEqual(header["enc1.conv.bias"], { dtype: "F32", shape: [2], data_offsets: [600, 608] });
  assert.deepEqual(header.__metadata__, { mean: "99.5", std: "50.25" });
  assert.equal(raw.length, 8 + n + 608);
  assert.equal(raw.readFloatLE(8 + n + 600), 0.25);
  assert.equal(raw.readFloatLE(8 + n + 4), w[1]);

  const back = readSafetensors(file);
  assert.deepEqual(back.metadata, { mean: "99.5", std: "50.25" });
  assert.deepEqual(Object.keys(back.tensors).sort(), ["empty", "enc1.conv.bias", "enc1.conv.weight"]);
  assert.deepEqual(back.tensors["enc1.conv.weight"].data, w);
  assert.deepEqual(back.tensors["enc1.conv.bias"].data, Float32Array.from([0.25, -Infinity]));
  assert.deepEqual(back.tensors.empty.shape, [0, 4]);
});

test("rejects a shape that does not match the data", () => {
  assert.throws(
    () =>
      writeSafetensors(path.join(tempDir(), "x.safetensors"), {
        a: { shape: [3], data: new Float32Array(2) },
      }),
    /shape \[3\] but 2 values/,
  );
});

test("bad files give one clear error naming the file", () => {
  const ok = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
  const cases: [string, Uint8Array, RegExp][] = [
    ["too short", new Uint8Array(5), /truncated \(5 bytes/],
    ["header past the end", handBuilt(ok, [0, 0]).subarray(0, 20), /truncated \(header says/],
    [
      "implausible length",
      (() => {
        const b = handBuilt(ok, [0, 0, 0, 0]);
        b[7] = 0x7f;
        return b;
      })(),
      /implausible/,
    ],
    ["not JSON", handBuilt("{nope}  ", []), /not JSON/],
    ["bad dtype", handBuilt(ok.replace("F32", "F16"), [0, 0, 0, 0]), /dtype "F16"/],
    ["offsets out of range", handBuilt(ok.replace("[0,4]", "[0,8]"), [0, 0, 0, 0]), /out of range/],
    ["offsets vs shape", handBuilt(ok.replace("[1]", "[2]"), [0, 0, 0, 0]), /4 bytes for shape \[2\]/],
    ["trailing bytes", handBuilt(ok, [0, 0, 0, 0, 9, 9, 9, 9]), /4 bytes after the last tensor/],
    [
      "gap",
      handBuilt('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', [0, 0, 0, 0, 0, 0, 0, 0]),
      /starts at 4, expected 0/,
    ],
    ["metadata not strings", handBuilt('{"__metadata__":{"k":1}}', []), /__metadata__.k is not a string/],
  ];
  const dir = tempDir();
  for (const [what, bytes, re] of cases) {
    const file = path.join(dir, "bad.safetensors");
    fs.writeFileSync(file, bytes);
    assert.throws(
      () => readSafetensors(file),
      (e: unknown) => e instanceof UserError && e.message.startsWith(file + ": ") && re.test(e.message),
      what,
    );
  }
  assert.throws(() => readSafetensors(path.join(dir, "missing.safetensors")), /cannot read/);
});
