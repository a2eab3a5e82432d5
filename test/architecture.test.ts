import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { PROJECT_ROOT } from "./helpers/sample.js";

/*
 * The layout is the architecture: imports between src/ folders run downwards (or sideways within a level,
 * without a cycle between folders). Levels: core → io, engine, metric → data → model → train, predict →
 * pipeline, web → cli; src/index.ts (the package API) sits above them all.
 */
const LEVEL: Record<string, number> = {
  core: 0,
  io: 1,
  engine: 1,
  metric: 1,
  data: 2,
  model: 3,
  train: 4,
  predict: 4,
  pipeline: 5,
  web: 5,
  cli: 6,
};
const SRC = path.join(PROJECT_ROOT, "src");

function sources(): string[] {
  return (fs.readdirSync(SRC, { recursive: true }) as string[])
    .filter((f) => f.endsWith(".ts"))
    .map((f) => path.join(SRC, f));
}

function folderEdges(): { edges: Map<string, Set<string>>; upward: string[] } {
  const edges = new Map<string, Set<string>>();
  const upward: string[] = [];
  for (const file of sources()) {
    const rel = path.relative(SRC, file);
    const from = rel.split(path.sep)[0];
    if (!(from in LEVEL)) continue;
    for (const m of fs.readFileSync(file, "utf8").matchAll(/from\s+"(\.[^"]+)"/g)) {
      const to = path.relative(SRC, path.resolve(path.dirname(file), m[1])).split(path.sep)[0];
      if (to === from) continue;
      assert.ok(to in LEVEL, `${rel} imports ${m[1]}, outside the known folders`);
      if (!edges.has(from)) edges.set(from, new Set());
      edges.get(from)!.add(to);
      if (LEVEL[to] > LEVEL[from]) upward.push(`${rel} imports ${m[1]} (${from} → ${to})`);
    }
  }
  return { edges, upward };
}

test("every src/ folder is on a level, and no import runs from a lower folder to a higher one", () => {
  for (const dir of fs.readdirSync(SRC, { withFileTypes: true }))
    if (dir.isDirectory()) assert.ok(dir.name in LEVEL, `src/${dir.name} has no level in the architecture`);
  assert.deepEqual(folderEdges().upward, []);
});

test("no cycle between folders", () => {
  const { edges } = folderEdges();
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const visit = (node: string, trail: string[]): void => {
    if (state.get(node) === "done") return;
    if (state.get(node) === "open") {
      cycles.push([...trail.slice(trail.indexOf(node)), node].join(" → "));
      return;
    }
    state.set(node, "open");
    for (const next of edges.get(node) ?? []) visit(next, [...trail, node]);
    state.set(node, "done");
  };
  for (const node of edges.keys()) visit(node, []);
  assert.deepEqual(cycles, []);
});

const lineCount = (text: string): number => text.split("\n").length - (text.endsWith("\n") ? 1 : 0);

test("no source file over 400 lines unless its header says why", () => {
  const long = sources()
    .map((f) => ({ f: path.relative(PROJECT_ROOT, f), text: fs.readFileSync(f, "utf8") }))
    .filter(
      ({ text }) =>
        lineCount(text) > 400 && !/Over 400 lines:/.test(/^\s*\/\*[^]*?\*\//.exec(text)?.[0] ?? ""),
    )
    .map(({ f, text }) => `${f} (${lineCount(text)} lines)`);
  assert.deepEqual(long, []);
});
