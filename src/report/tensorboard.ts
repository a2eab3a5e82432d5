import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { maskedCrc32c } from "./crc32c.js";
import { ProtoWriter } from "../io/protobuf.js";

/*
 * TensorBoard event files, written without TensorFlow.
 *
 * A file is a sequence of TFRecords: uint64 LE length, uint32 LE masked CRC-32C of those 8 bytes, the data,
 * uint32 LE masked CRC-32C of the data. Each record's data is an `Event` proto
 * (tensorflow/core/util/event.proto): wall_time = 1 (double), step = 2 (int64), file_version = 3 (string,
 * the first record), summary = 5 (Summary). `Summary` (tensorflow/core/framework/summary.proto):
 * value = 1 (repeated Value); `Value`: tag = 1, simple_value = 2 (float), histo = 5 (HistogramProto);
 * `HistogramProto`: min = 1, max = 2, num = 3, sum = 4, sum_squares = 5 (doubles),
 * bucket_limit = 6, bucket = 7 (packed doubles); image = 4 (Image: height = 1, width = 2, colorspace = 3,
 * encoded_image_string = 4, a PNG); metadata = 9 (SummaryMetadata: plugin_data = 1, PluginData:
 * plugin_name = 1, content = 2). The HParams plugin's content is HParamsPluginData
 * (tensorboard/plugins/hparams/plugin_data.proto): version = 1, session_start_info = 3
 * (SessionStartInfo: hparams = 1, a map<string, google.protobuf.Value> whose entries are key = 1,
 * value = 2; Value: number_value = 2, string_value = 3, bool_value = 4; start_time_secs = 5),
 * experiment = 2 (tensorboard/plugins/hparams/api.proto Experiment: time_created_secs = 3, hparam_infos = 4
 * (HParamInfo: name = 1, type = 4: 1 string, 2 bool, 3 float64), metric_infos = 5 (MetricInfo: name = 1
 * (MetricName: group = 1, tag = 2), dataset_type = 5: 1 training, 2 validation)), session_end_info = 4
 * (SessionEndInfo: status = 1 (1 success, 2 failure), end_time_secs = 2). A session is the folder holding
 * these records; a metric's group is the subfolder (run) its scalars are in, relative to the session.
 */

export const FILE_VERSION = "brain.Event:2";

/** A hyperparameter's value as the HParams plugin stores it. */
export type HParamValue = number | string | boolean;

/** A metric of an HParams session: the scalar `tag` of the run in subfolder `group`. */
export interface HParamMetric {
  group: string;
  tag: string;
}

/**
 * TensorFlow's default histogram bucket limits (tensorflow/core/lib/histogram/histogram.cc): limits growing
 * by 10% from 1e-12 up to 1e20, mirrored for negatives, a 0 in the middle and ±DBL_MAX at the ends.
 * Bucket i holds values in [limit(i-1), limit(i)).
 */
export const DEFAULT_BUCKET_LIMITS: Float64Array = (() => {
  const pos: number[] = [];
  for (let v = 1e-12; v < 1e20; v *= 1.1) pos.push(v);
  pos.push(Number.MAX_VALUE);
  const neg = pos.map((v) => -v).reverse();
  return Float64Array.from([...neg, 0, ...pos]);
})();

export interface Histogram {
  min: number;
  max: number;
  num: number;
  sum: number;
  sumSquares: number;
  /** Right edges of the non-empty buckets (runs of empty buckets collapsed, as TensorFlow does). */
  bucketLimit: number[];
  bucket: number[];
}

/**
 * Histogram of the finite values (NaN and ±Infinity are left out, and from `num`) in TensorFlow's default
 * buckets. Empty buckets are merged into the next non-empty one's run like TF's EncodeToProto with
 * preserve_zero_buckets = false, which keeps the proto small (a few dozen buckets for a weight tensor).
 */
export function histogramOf(values: ArrayLike<number>): Histogram {
  const limits = DEFAULT_BUCKET_LIMITS;
  const counts = new Float64Array(limits.length);
  let min = Infinity;
  let max = -Infinity;
  let num = 0;
  let sum = 0;
  let sumSquares = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    // upper_bound: the first limit strictly greater than v.
    let lo = 0;
    let hi = limits.length - 1; // DBL_MAX itself lands in the last bucket
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (limits[mid] > v) hi = mid;
      else lo = mid + 1;
    }
    counts[lo]++;
    if (v < min) min = v;
    if (v > max) max = v;
    num++;
    sum += v;
    sumSquares += v * v;
  }
  const bucketLimit: number[] = [];
  const bucket: number[] = [];
  if (num > 0) {
    for (let i = 0; i < counts.length;) {
      let end = limits[i];
      let count = counts[i];
      i++;
      if (count <= 0) {
        while (i < counts.length && counts[i] <= 0) {
          end = limits[i];
          count = counts[i];
          i++;
        }
      }
      bucketLimit.push(end);
      bucket.push(count);
    }
  }
  return {
    min: num > 0 ? min : 0,
    max: num > 0 ? max : 0,
    num,
    sum,
    sumSquares,
    bucketLimit,
    bucket,
  };
}

/** One TFRecord around `data`. */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 4 + data.length + 4);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(data.length), true);
  dv.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  dv.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

function eventHeader(step: number, wallTime: number): ProtoWriter {
  return new ProtoWriter().double(1, wallTime).varint(2, Math.trunc(step));
}

/**
 * Writes scalars and histograms to `logDir/events.out.tfevents.<secs>.<hostname>`, a new file per writer
 * (TensorBoard merges all event files of a directory, so a resumed run simply starts another file).
 * Records go to the OS as soon as they are added; flush() forces them to disk.
 */
export class SummaryWriter {
  readonly file: string;
  private fd: number | null;

  constructor(
    readonly logDir: string,
    private readonly now: () => number = () => Date.now() / 1000,
  ) {
    fs.mkdirSync(logDir, { recursive: true });
    const start = this.now();
    const base = path.join(logDir, `events.out.tfevents.${Math.floor(start)}.${os.hostname()}`);
    // Two writers started in the same second (a quick resume) must not share a file.
    let file = base;
    let fd: number | null = null;
    for (let n = 1; fd === null; n++) {
      try {
        fd = fs.openSync(file, "wx");
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        file = `${base}.${n}`;
      }
    }
    this.file = file;
    this.fd = fd;
    this.writeEvent(new ProtoWriter().double(1, start).string(3, FILE_VERSION));
  }

  private writeEvent(event: ProtoWriter): void {
    if (this.fd === null) throw new Error(`${this.file}: SummaryWriter used after close()`);
    const rec = tfRecord(event.finish());
    let off = 0;
    while (off < rec.length) off += fs.writeSync(this.fd, rec, off, rec.length - off);
  }

  /** A scalar (stored as a 32-bit float, as TensorBoard's simple_value is). */
  scalar(tag: string, value: number, step: number): void {
    const v = new ProtoWriter().string(1, tag).float(2, value);
    const summary = new ProtoWriter().message(1, v);
    this.writeEvent(eventHeader(step, this.now()).message(5, summary));
  }

  /** A histogram of the finite values, in TensorFlow's default buckets (see histogramOf). */
  histogram(tag: string, values: ArrayLike<number>, step: number): void {
    const h = histogramOf(values);
    const histo = new ProtoWriter()
      .double(1, h.min)
      .double(2, h.max)
      .double(3, h.num)
      .double(4, h.sum)
      .double(5, h.sumSquares)
      .packedDoubles(6, h.bucketLimit)
      .packedDoubles(7, h.bucket);
    const v = new ProtoWriter().string(1, tag).message(5, histo);
    const summary = new ProtoWriter().message(1, v);
    this.writeEvent(eventHeader(step, this.now()).message(5, summary));
  }

  /** A picture (PNG bytes), shown in TensorBoard's Images tab. */
  image(tag: string, png: Uint8Array, width: number, height: number, step: number): void {
    const img = new ProtoWriter().varint(1, height).varint(2, width).varint(3, 3).bytes(4, png);
    const v = new ProtoWriter().string(1, tag).message(4, img);
    this.writeEvent(eventHeader(step, this.now()).message(5, new ProtoWriter().message(1, v)));
  }

  /**
   * A session's hyperparameters for the HParams plugin: written once, in the folder that is the session
   * (its runs, e.g. train/ and validation/, are the subfolders whose scalars are its metrics).
   */
  hparams(values: Record<string, HParamValue>, startTime = this.now()): void {
    const start = new ProtoWriter().double(5, startTime);
    for (const [key, value] of Object.entries(values)) {
      const val =
        typeof value === "number"
          ? new ProtoWriter().double(2, value)
          : typeof value === "boolean"
            ? new ProtoWriter().varint(4, value ? 1 : 0)
            : new ProtoWriter().string(3, value);
      start.message(1, new ProtoWriter().string(1, key).message(2, val));
    }
    this.hparamsRecord("session_start_info", 3, start);
  }

  /**
   * The experiment: each hyperparameter's name and type, and the metrics (a run's subfolder and a scalar
   * tag), so the dashboard lists training and validation metrics side by side for the session.
   */
  hparamsExperiment(values: Record<string, HParamValue>, metrics: readonly HParamMetric[]): void {
    const exp = new ProtoWriter().double(3, this.now());
    for (const [name, value] of Object.entries(values))
      exp.message(
        4,
        new ProtoWriter()
          .string(1, name)
          .varint(4, typeof value === "string" ? 1 : typeof value === "boolean" ? 2 : 3),
      );
    for (const m of metrics)
      exp.message(
        5,
        new ProtoWriter()
          .message(1, new ProtoWriter().string(1, m.group).string(2, m.tag))
          .varint(5, m.group === "validation" ? 2 : 1),
      );
    this.hparamsRecord("experiment", 2, exp);
  }

  /** The session's end (success or failure); a resumable stop leaves the session open. */
  hparamsEnd(status: "success" | "failure"): void {
    this.hparamsRecord(
      "session_end_info",
      4,
      new ProtoWriter().varint(1, status === "success" ? 1 : 2).double(2, this.now()),
    );
  }

  private hparamsRecord(name: string, field: number, body: ProtoWriter): void {
    const content = new ProtoWriter().varint(1, 0).message(field, body);
    const plugin = new ProtoWriter().string(1, "hparams").bytes(2, content.finish());
    const v = new ProtoWriter()
      .string(1, `_hparams_/${name}`)
      .message(9, new ProtoWriter().message(1, plugin));
    this.writeEvent(eventHeader(0, this.now()).message(5, new ProtoWriter().message(1, v)));
  }

  /** Forces what was written to disk (call once per epoch). */
  flush(): void {
    if (this.fd !== null) fs.fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd === null) return;
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    this.fd = null;
  }
}
