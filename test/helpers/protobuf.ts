// A protobuf wire-format reader for tests: the fields of a message, to check what our writers encode.
import assert from "node:assert/strict";

export interface Field {
  num: number;
  wire: number;
  varint?: bigint;
  fixed?: Uint8Array;
  bytes?: Uint8Array;
}

export function walk(buf: Uint8Array): Field[] {
  const fields: Field[] = [];
  let p = 0;
  const readVarint = (): bigint => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      assert.ok(p < buf.length, "varint runs past the end");
      const b = buf[p++];
      v |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if ((b & 0x80) === 0) return v;
    }
  };
  while (p < buf.length) {
    const key = Number(readVarint());
    const num = key >> 3;
    const wire = key & 7;
    if (wire === 0) fields.push({ num, wire, varint: readVarint() });
    else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      assert.ok(p + n <= buf.length, "fixed field runs past the end");
      fields.push({ num, wire, fixed: buf.slice(p, p + n) });
      p += n;
    } else if (wire === 2) {
      const n = Number(readVarint());
      assert.ok(p + n <= buf.length, "length-delimited field runs past the end");
      fields.push({ num, wire, bytes: buf.slice(p, p + n) });
      p += n;
    } else assert.fail(`unexpected wire type ${wire}`);
  }
  return fields;
}

export const f64 = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, true);
export const f32 = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset, 4).getFloat32(0, true);
export const one = (fs_: Field[], num: number): Field => {
  const found = fs_.filter((f) => f.num === num);
  assert.equal(found.length, 1, `field ${num} appears ${found.length} times`);
  return found[0];
};
