/*
 * The addon's entry points as TypeScript sees them: one row per entry point, its fields in order with
 * their kinds, mirroring the NS_ENTRY declarations in native/src/*.cc (one X-macro each). The types of
 * the calls (NativeAddon) are derived from this table, and the addon exports its own table
 * (nativeTable(), generated from the same X-macros that read the arguments), which tableDifferences()
 * compares with this one field by field when the addon loads and in test/engine/native-table.test.ts.
 *
 * Style: "positional" entry points take their fields as arguments in order (the short ones, called for
 * every elementwise op); "options" ones take one object whose properties are the fields.
 *
 * Over 400 lines: the whole table, one line per field of each of the 31 entry points, so that it reads
 * down beside the C++ declarations; split, it would be two tables to keep in step instead of one.
 */
/** The convolutions' compute precision: a field of every conv call (the model's, passed down). */
export type Precision = "fp32" | "bf16";

/** What a field of each scalar kind is in JavaScript (entry.h's Field<...>). */
interface KindTypes {
  buf: Float32Array;
  optbuf: Float32Array | null;
  /** a non-negative integer: a size or count */
  size: number;
  /** a non-negative integer code (ActCode, binary's op) */
  code: number;
  /** a number the kernel uses as float */
  f32: number;
  f64: number;
  flag: boolean;
  precision: Precision;
}
type ScalarKind = keyof KindTypes;

/** Records: nested objects (a struct with NS_FIELDS in C++). */
export const NATIVE_RECORDS = {
  // conv.h ConvGeom: batch, input HxW, channels in/out, kernel, stride, pad, output HxW
  convGeom: [
    ["n", "size"],
    ["h", "size"],
    ["w", "size"],
    ["c", "size"],
    ["oc", "size"],
    ["kh", "size"],
    ["kw", "size"],
    ["s", "size"],
    ["p", "size"],
    ["oh", "size"],
    ["ow", "size"],
  ],
} as const satisfies Record<string, readonly (readonly [string, ScalarKind])[]>;
type Records = typeof NATIVE_RECORDS;

type FieldKind = ScalarKind | keyof Records;
type FieldSpec = readonly [name: string, kind: FieldKind];

/** What an entry point returns ("buf": a new Float32Array; "table": nativeTable()'s). */
interface ReturnTypes {
  void: void;
  number: number;
  boolean: boolean;
  string: string;
  buf: Float32Array;
  table: NativeTable;
}

interface EntrySpec {
  style: "positional" | "options";
  returns: keyof ReturnTypes;
  fields: readonly FieldSpec[];
}

/** nativeTable()'s shape, and what tableDifferences() compares. */
export interface NativeTable {
  entries: Record<string, { style: string; returns: string; fields: readonly (readonly [string, string])[] }>;
  records: Record<string, readonly (readonly [string, string])[]>;
}

const none = [] as const;
const FWD_KERNEL = [
  ["hasBias", "flag"],
  ["geom", "convGeom"],
  ["act", "code"],
  ["alpha", "f32"],
  ["yBf16", "flag"],
  ["precision", "precision"],
] as const;

/**
 * Every entry point, one op family (native/src/<family>.cc) after another, forward and backward side by
 * side. A buffer flagged bf16 holds packed bf16 (two values per float, ceil(n / 2) floats).
 */
export const NATIVE_ENTRIES = {
  // addon.cc: runtime
  version: { style: "positional", returns: "string", fields: none },
  setThreads: { style: "positional", returns: "void", fields: [["n", "size"]] },
  getThreads: { style: "positional", returns: "number", fields: none },
  /** Whether oneDNN's effective ISA has the AVX512-BF16 kernels. */
  bf16Supported: { style: "positional", returns: "boolean", fields: none },
  // entry.cc: this table, as the addon declares it
  nativeTable: { style: "positional", returns: "table", fields: none },

  // memory.cc: tensor buffers (the pool that reuses them is memory.ts)
  alloc: {
    style: "positional",
    returns: "buf",
    fields: [
      ["n", "size"],
      ["zero", "flag"],
    ],
  },
  /** Releases a's memory now and detaches a (a no-op if already freed). */
  free: { style: "positional", returns: "void", fields: [["a", "buf"]] },
  /** Bytes allocated by alloc and not yet freed. */
  liveBytes: { style: "positional", returns: "number", fields: none },

  // conv.cc: convolution. x / y / dy packed bf16 where flagged: the activations of bf16, and conv + BN's
  // inner tensor and its gradient (ops/batchnorm.ts).
  /** y = act(conv(x, w) + b); w in the kernel's own layout when wPrepared. */
  convForward: {
    style: "options",
    returns: "void",
    fields: [
      ["x", "buf"],
      ["w", "buf"],
      ["b", "optbuf"],
      ["y", "buf"],
      ["geom", "convGeom"],
      ["act", "code"],
      ["alpha", "f32"],
      ["wPrepared", "flag"],
      ["xBf16", "flag"],
      ["yBf16", "flag"],
      ["precision", "precision"],
    ],
  },
  /** Floats needed for this conv's weights in the kernel's own (blocked) layout. */
  convPreparedSize: { style: "options", returns: "number", fields: FWD_KERNEL },
  /** HWIO weights -> the kernel's layout (for convForward's wPrepared). */
  convPrepareWeights: {
    style: "options",
    returns: "void",
    fields: [["w", "buf"], ["out", "buf"], ...FWD_KERNEL],
  },
  convBackwardData: {
    style: "options",
    returns: "void",
    fields: [
      ["dy", "buf"],
      ["w", "buf"],
      ["dx", "buf"],
      ["geom", "convGeom"],
      ["precision", "precision"],
    ],
  },
  convBackwardWeights: {
    style: "options",
    returns: "void",
    fields: [
      ["x", "buf"],
      ["dy", "buf"],
      ["dw", "buf"],
      ["db", "optbuf"],
      ["geom", "convGeom"],
      ["precision", "precision"],
    ],
  },
  /** Both gradients in one call (each only where its buffer is given; db only with dw): dy converted once in bf16. */
  convBackward: {
    style: "options",
    returns: "void",
    fields: [
      ["x", "buf"],
      ["w", "buf"],
      ["dy", "buf"],
      ["dx", "optbuf"],
      ["dw", "optbuf"],
      ["db", "optbuf"],
      ["geom", "convGeom"],
      ["xBf16", "flag"],
      ["dyBf16", "flag"],
      ["precision", "precision"],
    ],
  },
  /**
   * bf16 training convolutions run over the batch in chunks whose bf16 copies fit in this many bytes
   * (default 4 MiB; 0 = the whole batch). Returns the previous value. For tests and benchmarks.
   */
  setConvChunkBytes: { style: "positional", returns: "number", fields: [["bytes", "size"]] },

  // dense.cc: the dense layer, x [n,k] w [k,m] -> y [n,m]
  denseForward: {
    style: "options",
    returns: "void",
    fields: [
      ["x", "buf"],
      ["w", "buf"],
      ["b", "optbuf"],
      ["y", "buf"],
      ["n", "size"],
      ["k", "size"],
      ["m", "size"],
    ],
  },
  /** Each gradient only where its buffer is given. */
  denseBackward: {
    style: "options",
    returns: "void",
    fields: [
      ["x", "buf"],
      ["w", "buf"],
      ["dy", "buf"],
      ["dx", "optbuf"],
      ["dw", "optbuf"],
      ["db", "optbuf"],
      ["n", "size"],
      ["k", "size"],
      ["m", "size"],
    ],
  },

  // batchnorm.cc: batch norm fused with its activation over [rows, c]
  bnForward: {
    style: "options",
    returns: "void",
    fields: [
      ["x", "buf"],
      ["gamma", "buf"],
      ["beta", "buf"],
      ["y", "buf"],
      ["saveMean", "buf"],
      ["saveInvstd", "buf"],
      ["runMean", "buf"],
      ["runVar", "buf"],
      ["rows", "size"],
      ["c", "size"],
      ["eps", "f64"],
      ["training", "flag"],
      ["momentum", "f64"],
      ["act", "code"],
      ["alpha", "f32"],
      ["xBf16", "flag"],
      ["yBf16", "flag"],
    ],
  },
  /** y may be null when act is none; dx null when only dgamma and dbeta are wanted; dx has x's format. */
  bnBackward: {
    style: "options",
    returns: "void",
    fields: [
      ["x", "buf"],
      ["y", "optbuf"],
      ["dy", "buf"],
      ["gamma", "buf"],
      ["mean", "buf"],
      ["invstd", "buf"],
      ["dx", "optbuf"],
      ["dgamma", "buf"],
      ["dbeta", "buf"],
      ["rows", "size"],
      ["c", "size"],
      ["act", "code"],
      ["alpha", "f32"],
      ["training", "flag"],
      ["xBf16", "flag"],
      ["yBf16", "flag"],
    ],
  },

  // pool_resize.cc: 2x2 max-pool, 2x upsample + skip concat; activations packed bf16 when `bf16`
  maxPoolForward: {
    style: "options",
    returns: "void",
    fields: [
      ["x", "buf"],
      ["y", "buf"],
      ["n", "size"],
      ["h", "size"],
      ["w", "size"],
      ["c", "size"],
      ["bf16", "flag"],
    ],
  },
  maxPoolBackward: {
    style: "options",
    returns: "void",
    fields: [
      ["x", "buf"],
      ["y", "buf"],
      ["dy", "buf"],
      ["dx", "buf"],
      ["n", "size"],
      ["h", "size"],
      ["w", "size"],
      ["c", "size"],
      ["bf16", "flag"],
    ],
  },
  upsampleConcatForward: {
    style: "options",
    returns: "void",
    fields: [
      ["x", "buf"],
      ["skip", "buf"],
      ["y", "buf"],
      ["n", "size"],
      ["h", "size"],
      ["w", "size"],
      ["cx", "size"],
      ["cs", "size"],
      ["bf16", "flag"],
    ],
  },
  upsampleConcatBackward: {
    style: "options",
    returns: "void",
    fields: [
      ["dy", "buf"],
      ["dx", "optbuf"],
      ["dskip", "optbuf"],
      ["n", "size"],
      ["h", "size"],
      ["w", "size"],
      ["cx", "size"],
      ["cs", "size"],
    ],
  },

  // elementwise.cc: every buffer holds n floats
  unaryForward: {
    style: "positional",
    returns: "void",
    fields: [
      ["act", "code"],
      ["x", "buf"],
      ["y", "buf"],
      ["n", "size"],
      ["alpha", "f32"],
    ],
  },
  /** Gradient from the forward's output y. */
  unaryBackward: {
    style: "positional",
    returns: "void",
    fields: [
      ["act", "code"],
      ["y", "buf"],
      ["dy", "buf"],
      ["dx", "buf"],
      ["n", "size"],
      ["alpha", "f32"],
    ],
  },
  /** op: 0 add, 1 mul */
  binary: {
    style: "positional",
    returns: "void",
    fields: [
      ["op", "code"],
      ["a", "buf"],
      ["b", "buf"],
      ["y", "buf"],
      ["n", "size"],
    ],
  },
  /** y = b*y + a*x */
  axpby: {
    style: "positional",
    returns: "void",
    fields: [
      ["y", "buf"],
      ["x", "buf"],
      ["a", "f32"],
      ["b", "f32"],
      ["n", "size"],
    ],
  },
  fill: {
    style: "positional",
    returns: "void",
    fields: [
      ["y", "buf"],
      ["value", "f32"],
      ["n", "size"],
    ],
  },
  sumSquares: {
    style: "positional",
    returns: "number",
    fields: [
      ["x", "buf"],
      ["n", "size"],
    ],
  },

  // optim.cc: every buffer holds n floats
  adamStep: {
    style: "options",
    returns: "void",
    fields: [
      ["p", "buf"],
      ["g", "buf"],
      ["m", "buf"],
      ["v", "buf"],
      ["n", "size"],
      ["lr", "f32"],
      ["beta1", "f32"],
      ["beta2", "f32"],
      ["eps", "f32"],
      ["bc1", "f64"],
      ["bc2", "f64"],
      ["weightDecay", "f32"],
    ],
  },
  /** buf null: no momentum. */
  sgdStep: {
    style: "options",
    returns: "void",
    fields: [
      ["p", "buf"],
      ["g", "buf"],
      ["buf", "optbuf"],
      ["n", "size"],
      ["lr", "f32"],
      ["momentum", "f32"],
      ["dampening", "f32"],
      ["nesterov", "flag"],
      ["weightDecay", "f32"],
      ["first", "flag"],
    ],
  },
} as const satisfies Record<string, EntrySpec>;

// ---------------------------------------------------------------------------------------------
// The calls' types, derived from the table.

type KindType<K> = K extends ScalarKind
  ? KindTypes[K]
  : K extends keyof Records
    ? RecordOf<Records[K]>
    : never;
/** An object with one property per field. */
type RecordOf<F extends readonly FieldSpec[]> = { [P in F[number] as P[0]]: KindType<P[1]> };
/** The fields as an argument list, in order. */
type ArgsOf<F extends readonly FieldSpec[]> = {
  -readonly [I in keyof F]: F[I] extends readonly [string, infer K] ? KindType<K> : never;
};
type CallOf<E extends EntrySpec> = E extends { style: "options" }
  ? (options: RecordOf<E["fields"]>) => ReturnTypes[E["returns"]]
  : (...args: ArgsOf<E["fields"]>) => ReturnTypes[E["returns"]];

type Entries = typeof NATIVE_ENTRIES;
/** The addon's exports. */
export type NativeAddon = { [N in keyof Entries]: CallOf<Entries[N]> };
/** A convolution's geometry as the conv entry points take it (ops/conv.ts's convGeom makes it). */
export type ConvGeom = RecordOf<Records["convGeom"]>;

/**
 * How a table (nativeTable()'s, or an altered copy in a test) differs from `declared` (default: this
 * file's), one line per difference: entry points or records only on one side, and per entry point its
 * style, return kind and each field's name and kind in order. Empty when they agree.
 */
export function tableDifferences(
  actual: NativeTable,
  declared: NativeTable = { entries: NATIVE_ENTRIES, records: NATIVE_RECORDS },
): string[] {
  const out: string[] = [];
  const fieldsDiffer = (
    where: string,
    a: NativeTable["records"][string],
    d: NativeTable["records"][string],
  ) => {
    for (let i = 0; i < Math.max(a.length, d.length); i++) {
      const [an, ak] = a[i] ?? ["(none)", ""];
      const [dn, dk] = d[i] ?? ["(none)", ""];
      if (an !== dn || ak !== dk)
        out.push(`${where} field ${i}: addon has ${an}: ${ak}, TypeScript ${dn}: ${dk}`);
    }
  };
  const names = (o: object): string[] => Object.keys(o).sort();
  for (const [what, a, d] of [
    ["entry point", actual.entries, declared.entries],
    ["record", actual.records, declared.records],
  ] as const) {
    for (const n of names(a)) if (!(n in d)) out.push(`${what} ${n}: only in the addon`);
    for (const n of names(d)) if (!(n in a)) out.push(`${what} ${n}: only in TypeScript`);
  }
  for (const n of names(actual.entries)) {
    const a = actual.entries[n];
    const d = declared.entries[n];
    if (!d) continue;
    if (a.style !== d.style) out.push(`${n}: addon style ${a.style}, TypeScript ${d.style}`);
    if (a.returns !== d.returns) out.push(`${n}: addon returns ${a.returns}, TypeScript ${d.returns}`);
    fieldsDiffer(n, a.fields, d.fields);
  }
  for (const n of names(actual.records))
    if (declared.records[n]) fieldsDiffer(n, actual.records[n], declared.records[n]);
  return out;
}
