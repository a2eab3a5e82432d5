// Minimal ONNX (opset 13) writer: a hand-written protobuf encoder for ModelProto plus a graph
// builder that takes engine weights. The engine is NHWC/HWIO and ONNX is NCHW/OIHW, so the
// builder transposes weights when it writes them and puts one Transpose at each graph input and
// output: the exported model takes and returns the same NHWC arrays as the engine.
import { ProtoWriter } from "../io/protobuf.js";
import type { Tensor } from "./tensor.js";
import type { BatchNormState, Activation } from "./ops.js";

// ---- ONNX messages --------------------------------------------------------------------------

type AttrValue = number | string | number[] | { floats: number[] };

const ATTR_FLOAT = 1,
  ATTR_INT = 2,
  ATTR_STRING = 3,
  ATTR_FLOATS = 6,
  ATTR_INTS = 7;
const FLOAT = 1,
  INT64 = 7;

interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
  /** Attributes whose numeric value is a float (ONNX distinguishes f from i). */
  floatAttrs: Set<string>;
}

function encodeAttr(name: string, v: AttrValue, isFloat: boolean): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  if (typeof v === "number") {
    if (isFloat) w.float(2, v).varint(20, ATTR_FLOAT);
    else w.varint(3, v).varint(20, ATTR_INT);
  } else if (typeof v === "string") {
    w.bytes(4, new TextEncoder().encode(v)).varint(20, ATTR_STRING);
  } else if (Array.isArray(v)) {
    for (const i of v) w.varint(8, i);
    w.varint(20, ATTR_INTS);
  } else {
    for (const f of v.floats) w.float(7, f);
    w.varint(20, ATTR_FLOATS);
  }
  return w;
}

interface Initializer {
  name: string;
  dims: number[];
  type: typeof FLOAT | typeof INT64;
  raw: Uint8Array;
}

function valueInfo(name: string, dims: (number | string)[]): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of dims)
    shape.message(1, typeof d === "number" ? new ProtoWriter().varint(1, d) : new ProtoWriter().string(2, d));
  const tensorType = new ProtoWriter().varint(1, FLOAT).message(2, shape);
  return new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tensorType));
}

/** One value in the graph: its name and rank (4 = NCHW activation inside the graph). */
export interface OnnxValue {
  readonly name: string;
  readonly rank: number;
}

/**
 * Builds an ONNX graph op by op from engine tensors. Values inside the graph are NCHW; `input`
 * and `output` convert from/to the engine's NHWC.
 */
export class OnnxBuilder {
  private nodes: NodeSpec[] = [];
  private inits: Initializer[] = [];
  private inputs: ProtoWriter[] = [];
  private outputs: ProtoWriter[] = [];
  private counter = 0;

  constructor(readonly graphName = "nerveseg") {}

  private fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  private node(
    op: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
    floatAttrs: string[] = [],
  ): string {
    const out = this.fresh(op.toLowerCase());
    this.nodes.push({ op, inputs, outputs: [out], attrs, floatAttrs: new Set(floatAttrs) });
    return out;
  }

  /** Adds a float initializer (values copied) and returns its name. */
  constant(prefix: string, dims: number[], values: ArrayLike<number>): string {
    const name = this.fresh(prefix);
    const f = Float32Array.from(values);
    this.inits.push({ name, dims, type: FLOAT, raw: new Uint8Array(f.buffer) });
    return name;
  }

  private int64Const(prefix: string, values: number[]): string {
    const name = this.fresh(prefix);
    const b = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.inits.push({ name, dims: [values.length], type: INT64, raw: new Uint8Array(b.buffer) });
    return name;
  }

  /** Graph input with NHWC dims (a string dim is symbolic, e.g. "N"); returns the NCHW value. */
  input(name: string, nhwc: (number | string)[]): OnnxValue {
    this.inputs.push(valueInfo(name, nhwc));
    if (nhwc.length !== 4) return { name, rank: nhwc.length };
    return { name: this.node("Transpose", [name], { perm: [0, 3, 1, 2] }), rank: 4 };
  }

  /** Graph output; 4-D values are transposed back to NHWC. `dims` are the output's (NHWC) dims. */
  output(v: OnnxValue, name: string, dims: (number | string)[]): void {
    const src = v.rank === 4 ? this.node("Transpose", [v.name], { perm: [0, 2, 3, 1] }) : v.name;
    this.nodes.push({ op: "Identity", inputs: [src], outputs: [name], attrs: {}, floatAttrs: new Set() });
    this.outputs.push(valueInfo(name, dims));
  }

  /** Convolution with an HWIO weight (written as OIHW). */
  conv(x: OnnxValue, w: Tensor, b: Tensor | null, opts: { stride?: number; pad?: number } = {}): OnnxValue {
    const [kh, kw, ci, co] = w.shape;
    const src = w.data;
    const oihw = new Float32Array(w.size);
    for (let a = 0; a < kh; a++)
      for (let c = 0; c < kw; c++)
        for (let i = 0; i < ci; i++)
          for (let o = 0; o < co; o++)
            oihw[((o * ci + i) * kh + a) * kw + c] = src[((a * kw + c) * ci + i) * co + o];
    const ins = [x.name, this.constant("W", [co, ci, kh, kw], oihw)];
    if (b) ins.push(this.constant("B", [co], b.data));
    const p = opts.pad ?? 0,
      s = opts.stride ?? 1;
    return {
      name: this.node("Conv", ins, { kernel_shape: [kh, kw], pads: [p, p, p, p], strides: [s, s] }),
      rank: 4,
    };
  }

  /** Inference batch norm from running statistics. */
  batchNorm(x: OnnxValue, bn: BatchNormState): OnnxValue {
    const c = bn.gamma.size;
    const ins = [
      x.name,
      this.constant("gamma", [c], bn.gamma.data),
      this.constant("beta", [c], bn.beta.data),
      this.constant("mean", [c], bn.runningMean.data),
      this.constant("var", [c], bn.runningVar.data),
    ];
    const name = this.node("BatchNormalization", ins, { epsilon: bn.eps ?? 1e-5 }, ["epsilon"]);
    return { name, rank: x.rank };
  }

  activation(x: OnnxValue, act: Activation, alpha = 1): OnnxValue {
    if (act === "none") return x;
    if (act === "elu") return { name: this.node("Elu", [x.name], { alpha }, ["alpha"]), rank: x.rank };
    return { name: this.node(act === "relu" ? "Relu" : "Sigmoid", [x.name]), rank: x.rank };
  }

  /** conv -> BN -> activation, mirroring ops.convBnAct in eval mode. */
  convBnAct(
    x: OnnxValue,
    w: Tensor,
    b: Tensor | null,
    bn: BatchNormState,
    opts: { stride?: number; pad?: number; act?: Activation; alpha?: number } = {},
  ): OnnxValue {
    return this.activation(this.batchNorm(this.conv(x, w, b, opts), bn), opts.act ?? "none", opts.alpha ?? 1);
  }

  maxPool2x2(x: OnnxValue): OnnxValue {
    return { name: this.node("MaxPool", [x.name], { kernel_shape: [2, 2], strides: [2, 2] }), rank: 4 };
  }

  upsample2x(x: OnnxValue): OnnxValue {
    const scales = this.constant("scales", [4], [1, 1, 2, 2]);
    const name = this.node("Resize", [x.name, "", scales], {
      mode: "nearest",
      coordinate_transformation_mode: "asymmetric",
      nearest_mode: "floor",
    });
    return { name, rank: 4 };
  }

  /** Channel concat (axis 1 in NCHW; last axis for rank-2 values). */
  concat(xs: OnnxValue[]): OnnxValue {
    const axis = xs[0].rank === 4 ? 1 : xs[0].rank - 1;
    return {
      name: this.node(
        "Concat",
        xs.map((x) => x.name),
        { axis },
      ),
      rank: xs[0].rank,
    };
  }

  add(a: OnnxValue, b: OnnxValue): OnnxValue {
    return { name: this.node("Add", [a.name, b.name]), rank: a.rank };
  }

  mul(a: OnnxValue, b: OnnxValue): OnnxValue {
    return { name: this.node("Mul", [a.name, b.name]), rank: a.rank };
  }

  /** Flatten in the engine's NHWC order (so a following dense layer sees the same features). */
  flatten(x: OnnxValue): OnnxValue {
    const src = x.rank === 4 ? this.node("Transpose", [x.name], { perm: [0, 2, 3, 1] }) : x.name;
    return { name: this.node("Flatten", [src], { axis: 1 }), rank: 2 };
  }

  /** Dense layer: x [N,K] @ w [K,M] + b. */
  dense(x: OnnxValue, w: Tensor, b: Tensor | null): OnnxValue {
    const [k, m] = w.shape;
    const ins = [x.name, this.constant("W", [k, m], w.data)];
    if (b) ins.push(this.constant("B", [m], b.data));
    return { name: this.node("Gemm", ins), rank: 2 };
  }

  /** Reshape to a fixed shape (use -1 / 0 as ONNX allows). */
  reshape(x: OnnxValue, shape: number[]): OnnxValue {
    return { name: this.node("Reshape", [x.name, this.int64Const("shape", shape)]), rank: shape.length };
  }

  /** Serialises the ModelProto (producer_name and producer_version, ModelProto fields 2 and 3). */
  toBytes(producer = "nerveseg", producerVersion = ""): Uint8Array {
    const g = new ProtoWriter();
    for (const n of this.nodes) {
      const nw = new ProtoWriter();
      for (const i of n.inputs) nw.string(1, i);
      for (const o of n.outputs) nw.string(2, o);
      nw.string(3, n.outputs[0]).string(4, n.op);
      for (const [k, v] of Object.entries(n.attrs)) nw.message(5, encodeAttr(k, v, n.floatAttrs.has(k)));
      g.message(1, nw);
    }
    g.string(2, this.graphName);
    for (const t of this.inits) {
      const tw = new ProtoWriter();
      for (const d of t.dims) tw.varint(1, d);
      tw.varint(2, t.type).string(8, t.name).bytes(9, t.raw);
      g.message(5, tw);
    }
    for (const i of this.inputs) g.message(11, i);
    for (const o of this.outputs) g.message(12, o);
    return new ProtoWriter()
      .varint(1, 7)
      .string(2, producer)
      .string(3, producerVersion)
      .message(7, g)
      .message(8, new ProtoWriter().string(1, "").varint(2, 13))
      .finish();
  }
}
