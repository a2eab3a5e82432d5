// The addon's entry points and TypeScript's declaration of them (src/engine/native-entries.ts) agree
// field by field: the addon's nativeTable() (made from the same X-macros that read each call) against
// the TypeScript table the call types are derived from; altered copies of the table are caught; and a
// call that misses or mistypes a field is refused with an error naming the entry point and the field.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { createRequire } from "node:module";
import { native, ActCode } from "../../src/engine/native.js";
import {
  NATIVE_ENTRIES,
  NATIVE_RECORDS,
  tableDifferences,
  type NativeTable,
} from "../../src/engine/native-entries.js";
import { PROJECT_ROOT } from "../helpers/sample.js";

const table = (): NativeTable => native.nativeTable();
/** A deep copy of the addon's table to alter. */
const copy = (): NativeTable => structuredClone(table()) as NativeTable;

test("the addon's table and the TypeScript declaration agree, entry point by entry point and field by field", () => {
  assert.deepEqual(tableDifferences(table()), []);
  assert.deepEqual(Object.keys(table().entries).sort(), Object.keys(NATIVE_ENTRIES).sort());
  // What the addon exports is what its table lists (both come from one registry).
  const addon = createRequire(import.meta.url)(
    path.join(PROJECT_ROOT, "native", "build", "Release", "nerveseg_native.node"),
  ) as Record<string, unknown>;
  assert.deepEqual(Object.keys(addon).sort(), Object.keys(table().entries).sort());
  for (const name of Object.keys(addon)) assert.equal(typeof addon[name], "function", name);
});

test("specific rows: convForward takes an options object with a nested geometry and the precision", () => {
  const t = table();
  assert.deepEqual(t.entries.convForward, {
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
  });
  assert.deepEqual(
    t.records.convGeom.map(([n]) => n),
    ["n", "h", "w", "c", "oc", "kh", "kw", "s", "p", "oh", "ow"],
  );
  // Every conv entry point but the chunk-size knob takes the precision per call.
  for (const [name, row] of Object.entries(t.entries))
    if (name.startsWith("conv"))
      assert.ok(
        row.fields.some(([f, k]) => f === "precision" && k === "precision"),
        `${name} takes the precision`,
      );
  assert.deepEqual(t.entries.fill, {
    style: "positional",
    returns: "void",
    fields: [
      ["y", "buf"],
      ["value", "f32"],
      ["n", "size"],
    ],
  });
  assert.equal(t.entries.alloc.returns, "buf");
  assert.equal(NATIVE_RECORDS.convGeom.length, 11);
});

test("altered copies of the table are caught, each difference named", () => {
  const cases: [string, (t: NativeTable) => void, string | string[]][] = [
    [
      "two fields swapped",
      (t) => {
        const f = [...t.entries.convForward.fields];
        [f[0], f[1]] = [f[1], f[0]];
        t.entries.convForward = { ...t.entries.convForward, fields: f };
      },
      [
        "convForward field 0: addon has w: buf, TypeScript x: buf",
        "convForward field 1: addon has x: buf, TypeScript w: buf",
      ],
    ],
    [
      "a field renamed",
      (t) => {
        t.entries.bnForward = {
          ...t.entries.bnForward,
          fields: t.entries.bnForward.fields.map(([n, k]) => [n === "eps" ? "epsilon" : n, k] as const),
        };
      },
      "bnForward field 10: addon has epsilon: f64, TypeScript eps: f64",
    ],
    [
      "a kind changed",
      (t) => {
        t.entries.adamStep = {
          ...t.entries.adamStep,
          fields: t.entries.adamStep.fields.map(([n, k]) => [n, n === "bc1" ? "f32" : k] as const),
        };
      },
      "adamStep field 9: addon has bc1: f32, TypeScript bc1: f64",
    ],
    [
      "a field dropped",
      (t) => {
        t.entries.convBackward = {
          ...t.entries.convBackward,
          fields: t.entries.convBackward.fields.slice(0, -1),
        };
      },
      "convBackward field 9: addon has (none): , TypeScript precision: precision",
    ],
    [
      "the style changed",
      (t) => {
        t.entries.sgdStep = { ...t.entries.sgdStep, style: "positional" };
      },
      "sgdStep: addon style positional, TypeScript options",
    ],
    [
      "the return kind changed",
      (t) => {
        t.entries.sumSquares = { ...t.entries.sumSquares, returns: "void" };
      },
      "sumSquares: addon returns void, TypeScript number",
    ],
    [
      "an entry point only in the addon",
      (t) => {
        t.entries.extra = { style: "positional", returns: "void", fields: [] };
      },
      "entry point extra: only in the addon",
    ],
    [
      "an entry point missing from the addon",
      (t) => {
        delete t.entries.maxPoolBackward;
      },
      "entry point maxPoolBackward: only in TypeScript",
    ],
    [
      "a record field changed",
      (t) => {
        t.records.convGeom = t.records.convGeom.map(([n, k]) => [n === "s" ? "stride" : n, k] as const);
      },
      "convGeom field 7: addon has stride: size, TypeScript s: size",
    ],
  ];
  for (const [what, alter, expected] of cases) {
    const t = copy();
    alter(t);
    assert.deepEqual(tableDifferences(t), typeof expected === "string" ? [expected] : expected, what);
  }
});

test("a call that misses or mistypes a field names the entry point and the field (a TypeError)", () => {
  const f = new Float32Array(64);
  const geom = { n: 1, h: 2, w: 2, c: 1, oc: 1, kh: 1, kw: 1, s: 1, p: 0, oh: 2, ow: 2 };
  const conv = {
    x: f,
    w: f,
    b: null,
    y: f,
    geom,
    act: ActCode.None,
    alpha: 1,
    wPrepared: false,
    xBf16: false,
    yBf16: false,
    precision: "fp32" as const,
  };
  native.convForward(conv);
  const call = native.convForward as unknown as (o: unknown) => void;
  const refused = (o: unknown, message: RegExp) =>
    assert.throws(
      () => call(o),
      (e: Error) => e instanceof TypeError && message.test(e.message),
    );
  const { precision: _p, ...noPrecision } = conv;
  refused(noPrecision, /^native: convForward: precision: missing \(expected "fp32" or "bf16"\)$/);
  refused(
    { ...conv, precision: "fp16" },
    /^native: convForward: precision: expected "fp32" or "bf16", got string$/,
  );
  refused({ ...conv, alpha: "1" }, /^native: convForward: alpha: expected a number, got string$/);
  refused({ ...conv, xBf16: 0 }, /^native: convForward: xBf16: expected a boolean, got number$/);
  refused({ ...conv, b: undefined }, /^native: convForward: b: missing \(expected a Float32Array or null\)$/);
  refused(
    { ...conv, geom: { ...geom, oc: -1 } },
    /^native: convForward: geom\.oc: expected a non-negative integer$/,
  );
  refused({ ...conv, geom: { ...geom, s: 0 } }, /^native: convForward: geom\.s: bad kernel\/stride$/);
  refused(
    { ...conv, geom: [1, 2] },
    /^native: convForward: geom: expected an object \{ n h w c oc kh kw s p oh ow \}/,
  );
  refused({ ...conv, y: new Float32Array(3) }, /^native: convForward: y: buffer has 3 floats, needs 4$/);
  const positional = native.convForward as unknown as (...args: unknown[]) => void;
  assert.throws(
    () => positional(f, f, null, f),
    /^TypeError: native: convForward: expected one options object \{ x w b y geom/,
  );
  // Positional entry points keep their argument count check.
  const fill = native.fill as unknown as (...args: unknown[]) => void;
  assert.throws(
    () => fill(f, 1),
    /^TypeError: native: fill: n: expected a non-negative integer, got undefined$/,
  );
});
