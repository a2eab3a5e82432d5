import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { PROJECT_ROOT } from "./helpers/sample.js";

/*
 * The layout is the architecture. src/ has one folder (room) per stage, ranked below; a file imports only
 * from its own room or a lower one, type-only imports included. Between files there is no import cycle at
 * all. The CLI parses flags and prints: it imports only the public API (src/index.ts), its own files and npm
 * packages. Training sits above metric, postprocess and report because it measures itself with them (the
 * validation score goes through the mask rule) and draws its curves.
 */
const RANK = [
  "core", // errors, progress, logger, seeded random
  "io", // file formats: TIFF, PNG, GIF, BMP, DICOM, npy, safetensors, CSV, RLE; atomic writes
  "data", // layouts, inputs, prepare, manifest, split, resize, trim, dedupe
  "synth", // synthetic ultrasound frames with truth (apart: only the demo and tests use it)
  "engine", // tensors, native ops (forward/backward pairs), losses, optimisers, ONNX builder
  "metric", // Dice, IoU, Kaggle score, evaluation of files against truth
  "postprocess", // the mask rule, filters, shape priors, tuning its parameters
  "model", // presets, U-Net, model folders, ONNX export
  "report", // raster, font, curves, TensorBoard, overlays
  "train", // training with its augmentation, batches, checkpoints, schedules
  "predict", // inference, prediction folders, predict files, submission
  "pipeline", // whole chains: cross-validation, demo, bench
  "web", // the viewer
  "cli", // flags and printing, over src/index.ts only
] as const;
const rankOf = (room: string): number => RANK.indexOf(room as (typeof RANK)[number]);
const SRC = path.join(PROJECT_ROOT, "src");
const INDEX = "index.ts";

interface Edge {
  from: string; // relative to src/
  to: string;
  /** A file named by `new URL("./…", import.meta.url)` (a worker, the viewer's built page script), not imported. */
  url?: boolean;
}

function sources(): string[] {
  return (fs.readdirSync(SRC, { recursive: true }) as string[])
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
    .map((f) => f.split(path.sep).join("/"))
    .sort();
}

/** Every relative import (static, type-only, re-export, dynamic) of every source file, as file → file. */
function importEdges(): Edge[] {
  const edges: Edge[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|(new URL)\(\s*)"(\.{1,2}\/[^"]+)"/g;
  for (const from of sources()) {
    const text = fs.readFileSync(path.join(SRC, from), "utf8");
    for (const m of text.matchAll(re)) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(from), m[2]));
      edges.push({ from, to: target.replace(/\.js$/, ".ts"), ...(m[1] ? { url: true } : {}) });
    }
  }
  return edges;
}

const roomOf = (file: string): string => (file.includes("/") ? file.split("/")[0] : file);

test("every src/ folder is a room with a rank, and every import resolves inside src/", () => {
  for (const dir of fs.readdirSync(SRC, { withFileTypes: true }))
    if (dir.isDirectory())
      assert.ok(rankOf(dir.name) >= 0, `src/${dir.name} has no rank in the architecture`);
  const files = new Set(sources());
  // A URL may name a folder (the viewer serves the modules built from src/web/client/).
  const isDir = (to: string): boolean =>
    fs.statSync(path.join(SRC, to), { throwIfNoEntry: false })?.isDirectory() ?? false;
  const lost = importEdges()
    .filter((e) => !files.has(e.to) && !(e.url && e.to.endsWith("/") && isDir(e.to)))
    .map((e) => `${e.from} imports ${e.to}`);
  assert.deepEqual(lost, []);
});

/** Imports from a lower room to a higher one (index.ts is above every room but the CLI). */
function upward(edges: Edge[]): string[] {
  return edges
    .filter((e) => e.from !== INDEX && roomOf(e.from) !== "cli")
    .filter((e) => e.to === INDEX || rankOf(roomOf(e.to)) > rankOf(roomOf(e.from)))
    .map((e) => `${e.from} → ${e.to}`);
}

/** CLI imports of anything but the public API and the CLI's own files. */
function deepFromCli(edges: Edge[]): string[] {
  return edges
    .filter((e) => roomOf(e.from) === "cli" && e.to !== INDEX && roomOf(e.to) !== "cli")
    .map((e) => `${e.from} → ${e.to}`);
}

/**
 * The viewer's page script (src/web/client/, room web) runs in the browser, built apart: it imports only its
 * own files, and no other file imports it (the server reads its built modules through a URL, to serve them)
 * but its API contract, api.ts, which holds types only (checked below).
 */
const CLIENT = "web/client/";
const CLIENT_API = "web/client/api.ts";
function acrossClient(edges: Edge[]): string[] {
  return edges
    .filter((e) => e.from.startsWith(CLIENT) !== e.to.startsWith(CLIENT))
    .filter((e) => !(e.url && !e.from.startsWith(CLIENT)))
    .filter((e) => !(e.to === CLIENT_API && e.from.startsWith("web/")))
    .map((e) => `${e.from} → ${e.to}`);
}

/** Each cycle found by a depth-first walk, as a → b → … → a. */
function cycles(edges: Edge[]): string[] {
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const state = new Map<string, "open" | "done">();
  const found: string[] = [];
  const visit = (node: string, trail: string[]): void => {
    if (state.get(node) === "done") return;
    if (state.get(node) === "open") {
      found.push([...trail.slice(trail.indexOf(node)), node].join(" → "));
      return;
    }
    state.set(node, "open");
    for (const to of next.get(node) ?? []) visit(to, [...trail, node]);
    state.set(node, "done");
  };
  for (const node of [...next.keys()].sort()) visit(node, []);
  return found;
}

test("no import runs from a lower room to a higher one (type-only imports included)", () => {
  assert.deepEqual(upward(importEdges()), []);
});

test("the CLI imports only the public API (src/index.ts) and its own files", () => {
  assert.deepEqual(deepFromCli(importEdges()), []);
});

test("the viewer's page script imports only its own files, and only through relative paths", () => {
  assert.deepEqual(acrossClient(importEdges()), []);
  const bare = sources()
    .filter((f) => f.startsWith(CLIENT))
    .flatMap((f) =>
      [
        ...fs
          .readFileSync(path.join(SRC, f), "utf8")
          .matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)"([^"]+)"/g),
      ]
        .filter((m) => !m[1].startsWith("./"))
        .map((m) => `${f} imports ${m[1]}`),
    );
  assert.deepEqual(bare, []);
});

test("the viewer's API contract (web/client/api.ts) holds types only: the server imports no page code", () => {
  const text = fs.readFileSync(path.join(SRC, CLIENT_API), "utf8");
  const code = text
    .split("\n")
    .filter((l) => /^\s*(export\s+)?(const|let|var|function|class|enum)\b/.test(l));
  assert.deepEqual(code, []);
  for (const e of importEdges().filter((x) => x.to === CLIENT_API && !x.from.startsWith(CLIENT)))
    assert.match(
      fs.readFileSync(path.join(SRC, e.from), "utf8"),
      /import type \{[^}]*\} from "\.\/client\/api\.js"|export type \{[^}]*\} from "\.\/client\/api\.js"/,
      `${e.from} imports the API contract for its types only`,
    );
});

test("no import cycle between files, type-only imports included", () => {
  assert.deepEqual(cycles(importEdges()), []);
});

test("the checks catch what they forbid, on a made-up graph", () => {
  const made: Edge[] = [
    { from: "io/a.ts", to: "train/b.ts" }, // upward
    { from: "train/b.ts", to: "io/a.ts" }, // closes a cycle
    { from: "cli/x.ts", to: "train/b.ts" }, // deep import from the CLI
    { from: "cli/x.ts", to: INDEX },
    { from: INDEX, to: "train/b.ts" },
    { from: "predict/p.ts", to: INDEX }, // the API is above every room
    { from: "web/client/a.ts", to: "web/b.ts" }, // the page script reaching out of its folder
    { from: "web/b.ts", to: "web/client/a.ts" }, // server code importing the page script
    { from: "web/c.ts", to: "web/client/", url: true }, // reading its built files: allowed
    { from: "web/client/a.ts", to: "web/client/d.ts" },
  ];
  assert.deepEqual(upward(made), ["io/a.ts → train/b.ts", "predict/p.ts → index.ts"]);
  assert.deepEqual(deepFromCli(made), ["cli/x.ts → train/b.ts"]);
  assert.deepEqual(cycles(made), [
    "train/b.ts → io/a.ts → train/b.ts",
    "web/b.ts → web/client/a.ts → web/b.ts",
  ]);
  assert.deepEqual(acrossClient(made), ["web/client/a.ts → web/b.ts", "web/b.ts → web/client/a.ts"]);
});

const lineCount = (text: string): number => text.split("\n").length - (text.endsWith("\n") ? 1 : 0);

test("no source file over 400 lines unless its header says why", () => {
  const long = sources()
    .map((f) => ({ f, text: fs.readFileSync(path.join(SRC, f), "utf8") }))
    .filter(
      ({ text }) =>
        lineCount(text) > 400 && !/Over 400 lines:/.test(/^\s*\/\*[^]*?\*\//.exec(text)?.[0] ?? ""),
    )
    .map(({ f, text }) => `src/${f} (${lineCount(text)} lines)`);
  assert.deepEqual(long, []);
});
