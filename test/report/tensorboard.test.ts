import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { crc32c, maskedCrc32c } from "../../src/report/crc32c.js";
import { SummaryWriter, histogramOf } from "../../src/report/tensorboard.js";
import { f32, f64, one, walk, type Field } from "../helpers/protobuf.js";
import { tempDir } from "../helpers/sample.js";

// ---- An independent reader: bitwise CRC-32C and a generic protobuf wire-format walker. ----

function bitwiseCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) {
      const lsb = crc & 1;
      crc >>>= 1;
      if (lsb) crc ^= 0x82f63b78;
    }
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function mask(crc: number): number {
  const rotated = ((crc >>> 15) | (crc << 17)) >>> 0;
  return (rotated + 0xa282ead8) % 2 ** 32;
}

const packed = (b: Uint8Array): number[] => {
  assert.equal(b.length % 8, 0);
  return Array.from({ length: b.length / 8 }, (_, i) => f64(b.subarray(i * 8)));
};

/** Splits a TFRecord file, checking both CRCs of every record with the bitwise CRC. */
function readRecords(file: string): Uint8Array[] {
  const buf = new Uint8Array(fs.readFileSync(file));
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: Uint8Array[] = [];
  let p = 0;
  while (p < buf.length) {
    assert.ok(p + 12 <= buf.length, "truncated record header");
    const len = Number(dv.getBigUint64(p, true));
    assert.equal(dv.getUint32(p + 8, true), mask(bitwiseCrc32c(buf.subarray(p, p + 8))), "length CRC");
    assert.ok(p + 12 + len + 4 <= buf.length, "truncated record");
    const data = buf.slice(p + 12, p + 12 + len);
    assert.equal(dv.getUint32(p + 12 + len, true), mask(bitwiseCrc32c(data)), "data CRC");
    out.push(data);
    p += 16 + len;
  }
  return out;
}

interface DecodedEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  values: { tag: string; simple?: number; histo?: Field[] }[];
}

function decodeEvent(data: Uint8Array): DecodedEvent {
  const fields = walk(data);
  const wall = one(fields, 1);
  assert.equal(wall.wire, 1);
  const stepField = fields.find((f) => f.num === 2);
  const ev: DecodedEvent = { wallTime: f64(wall.fixed!), step: Number(stepField?.varint ?? 0n), values: [] };
  const fv = fields.find((f) => f.num === 3);
  if (fv) ev.fileVersion = new TextDecoder().decode(fv.bytes);
  const summary = fields.find((f) => f.num === 5);
  if (summary) {
    for (const v of walk(summary.bytes!).filter((f) => f.num === 1)) {
      const vf = walk(v.bytes!);
      const tag = new TextDecoder().decode(one(vf, 1).bytes);
      const simple = vf.find((f) => f.num === 2);
      const histo = vf.find((f) => f.num === 5);
      ev.values.push({
        tag,
        simple: simple ? f32(simple.fixed!) : undefined,
        histo: histo ? walk(histo.bytes!) : undefined,
      });
    }
  }
  return ev;
}

// ---- Tests ----

test("crc32c matches the standard check value and the bitwise CRC", () => {
  const check = new TextEncoder().encode("123456789");
  assert.equal(crc32c(check), 0xe3069283);
  assert.equal(bitwiseCrc32c(check), 0xe3069283);
  const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 131 + 7) & 0xff);
  assert.equal(crc32c(bytes), bitwiseCrc32c(bytes));
  assert.equal(maskedCrc32c(bytes), mask(bitwiseCrc32c(bytes)));
});

test("SummaryWriter writes a file_version record, scalars and histograms TensorBoard can read", () => {
  const dir = path.join(tempDir(), "logs", "run1");
  let clock = 1700000000.25;
  const w = new SummaryWriter(dir, () => (clock += 1));
  const values = new Float32Array(1000);
  for (let i = 0; i < values.length; i++) values[i] = Math.sin(i * 0.37) * (i % 7) * 0.01;
  values[3] = 0; // exact zero
  values[4] = 12345.5; // a large value
  values[5] = -1e-13; // below the smallest limit magnitude
  w.scalar("loss", 0.6931, 0);
  w.scalar("val_loss", 0.5, 0);
  w.scalar("loss", 0.25, 1);
  w.histogram("enc1/conv/weight", values, 1);
  w.scalar("lr", 1e-3, 70000000000); // a step needing a multi-byte varint
  w.flush();
  w.close();
  assert.throws(() => w.scalar("loss", 1, 2), /after close/);

  const files = fs.readdirSync(dir);
  assert.equal(files.length, 1);
  assert.match(files[0], /^events\.out\.tfevents\.1700000001\..+$/);
  const events = readRecords(path.join(dir, files[0])).map(decodeEvent);
  assert.equal(events.length, 6);
  assert.equal(events[0].fileVersion, "brain.Event:2");
  assert.equal(events[0].wallTime, 1700000001.25);

  const scalars = events
    .slice(1)
    .flatMap((e) => e.values.filter((v) => v.simple !== undefined).map((v) => [v.tag, e.step, v.simple]));
  assert.deepEqual(scalars, [
    ["loss", 0, Math.fround(0.6931)],
    ["val_loss", 0, 0.5],
    ["loss", 1, 0.25],
    ["lr", 70000000000, Math.fround(1e-3)],
  ]);
  for (let i = 1; i < events.length; i++) assert.ok(events[i].wallTime > events[i - 1].wallTime);

  const h = events[4];
  assert.equal(h.step, 1);
  assert.equal(h.values[0].tag, "enc1/conv/weight");
  const hf = h.values[0].histo!;
  const get = (n: number) => f64(one(hf, n).fixed!);
  assert.equal(get(1), Math.min(...values));
  assert.equal(get(2), 12345.5);
  assert.equal(get(3), values.length);
  let sum = 0;
  let sq = 0;
  for (const v of values) {
    sum += v;
    sq += v * v;
  }
  assert.ok(Math.abs(get(4) - sum) < 1e-9);
  assert.ok(Math.abs(get(5) - sq) < 1e-6);
  const limits = packed(one(hf, 6).bytes!);
  const counts = packed(one(hf, 7).bytes!);
  assert.equal(limits.length, counts.length);
  assert.equal(
    counts.reduce((a, b) => a + b, 0),
    values.length,
  );
  // Recount every bucket [previous limit, limit) from the raw values.
  for (let i = 0; i < limits.length; i++) {
    if (i > 0) assert.ok(limits[i] > limits[i - 1], "limits increase");
    const lo = i === 0 ? -Number.MAX_VALUE : limits[i - 1];
    const n = Array.from(values).filter((v) => v >= lo && v < limits[i]).length;
    assert.equal(counts[i], n, `bucket ${i} [${lo}, ${limits[i]})`);
  }
});

test("histogramOf uses TensorFlow's default 1.1x buckets and skips non-finite values", () => {
  const h = histogramOf([1, 1.001, 1.2, NaN, Infinity, -1]);
  assert.equal(h.num, 4);
  assert.equal(h.min, -1);
  assert.equal(h.max, 1.2);
  // The last limit of each non-empty bucket is 1e-12 * 1.1^k for some k (or 0 / ±DBL_MAX).
  const nonEmpty = h.bucketLimit.filter((_, i) => h.bucket[i] > 0);
  for (const l of nonEmpty) {
    const k = Math.log(Math.abs(l) / 1e-12) / Math.log(1.1);
    assert.ok(Math.abs(k - Math.round(k)) < 1e-6, `limit ${l} is on the 1.1x ladder`);
  }
  assert.deepEqual(
    h.bucket.filter((c) => c > 0),
    [1, 2, 1], // -1 | 1 and 1.001 share [0.9178, 1.0096) | 1.2
  );
  assert.equal(histogramOf([]).bucket.length, 0);
});

test("two writers started in the same second get separate files", () => {
  const dir = tempDir();
  const a = new SummaryWriter(dir, () => 5);
  const b = new SummaryWriter(dir, () => 5);
  a.scalar("x", 1, 0);
  b.scalar("x", 2, 1);
  a.close();
  b.close();
  const files = fs.readdirSync(dir).sort();
  assert.equal(files.length, 2);
  const steps = files
    .flatMap((f) => readRecords(path.join(dir, f)).map(decodeEvent).slice(1))
    .map((e) => e.step);
  assert.deepEqual(steps.sort(), [0, 1]);
});

test("images and hyperparameters are written as TensorBoard's Image and HParams records", () => {
  const dir = tempDir();
  const w = new SummaryWriter(dir, () => 1000);
  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
  w.image("sample_1", png, 30, 20, 4);
  w.hparams({ lr: 0.001, optimizer: "adam", elastic: false });
  w.close();
  const [, imageEvent, hparamsEvent] = readRecords(path.join(dir, fs.readdirSync(dir)[0]));
  const iv = walk(one(walk(one(walk(imageEvent), 5).bytes!), 1).bytes!);
  assert.equal(new TextDecoder().decode(one(iv, 1).bytes), "sample_1");
  const img = walk(one(iv, 4).bytes!);
  assert.equal(one(img, 1).varint, 20n);
  assert.equal(one(img, 2).varint, 30n);
  assert.equal(one(img, 3).varint, 3n);
  assert.deepEqual([...one(img, 4).bytes!], [...png]);
  const hv = walk(one(walk(one(walk(hparamsEvent), 5).bytes!), 1).bytes!);
  assert.equal(new TextDecoder().decode(one(hv, 1).bytes), "_hparams_/session_start_info");
  const plugin = walk(one(walk(one(hv, 9).bytes!), 1).bytes!);
  assert.equal(new TextDecoder().decode(one(plugin, 1).bytes), "hparams");
  const data = walk(one(plugin, 2).bytes!);
  const start = walk(one(data, 3).bytes!);
  const entries = new Map(
    start
      .filter((f) => f.num === 1)
      .map((e) => {
        const kv = walk(e.bytes!);
        return [new TextDecoder().decode(one(kv, 1).bytes), walk(one(kv, 2).bytes!)] as const;
      }),
  );
  assert.equal(f64(one(entries.get("lr")!, 2).fixed!), 0.001);
  assert.equal(new TextDecoder().decode(one(entries.get("optimizer")!, 3).bytes), "adam");
  assert.equal(one(entries.get("elastic")!, 4).varint, 0n);
});

test("an HParams session: the experiment lists hyperparameter types and train/validation metrics, then the end", () => {
  const dir = tempDir();
  const w = new SummaryWriter(dir, () => 1000);
  w.hparamsExperiment({ lr: 0.001, optimizer: "adam", elastic: false }, [
    { group: "train", tag: "epoch_loss" },
    { group: "validation", tag: "epoch_loss" },
  ]);
  w.hparamsEnd("success");
  w.close();
  const [, expEvent, endEvent] = readRecords(path.join(dir, fs.readdirSync(dir)[0]));
  const pluginData = (event: Uint8Array) => {
    const v = walk(one(walk(one(walk(event), 5).bytes!), 1).bytes!);
    const plugin = walk(one(walk(one(v, 9).bytes!), 1).bytes!);
    return { tag: new TextDecoder().decode(one(v, 1).bytes), data: walk(one(plugin, 2).bytes!) };
  };
  const exp = pluginData(expEvent);
  assert.equal(exp.tag, "_hparams_/experiment");
  const e = walk(one(exp.data, 2).bytes!);
  const infos = e.filter((f) => f.num === 4).map((f) => walk(f.bytes!));
  assert.deepEqual(
    infos.map((i) => [new TextDecoder().decode(one(i, 1).bytes), one(i, 4).varint]),
    [
      ["lr", 3n],
      ["optimizer", 1n],
      ["elastic", 2n],
    ],
  );
  const metrics = e
    .filter((f) => f.num === 5)
    .map((f) => {
      const m = walk(f.bytes!);
      const name = walk(one(m, 1).bytes!);
      return [
        new TextDecoder().decode(one(name, 1).bytes),
        new TextDecoder().decode(one(name, 2).bytes),
        one(m, 5).varint,
      ];
    });
  assert.deepEqual(metrics, [
    ["train", "epoch_loss", 1n],
    ["validation", "epoch_loss", 2n],
  ]);
  const end = pluginData(endEvent);
  assert.equal(end.tag, "_hparams_/session_end_info");
  const info = walk(one(end.data, 4).bytes!);
  assert.equal(one(info, 1).varint, 1n);
  assert.equal(f64(one(info, 2).fixed!), 1000);
});
