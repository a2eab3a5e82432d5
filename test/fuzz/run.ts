/**
 * The fuzz runner: mutants of every reader's fixtures (mutate.ts, fixtures.ts) and the hand-made bombs
 * (bombs.ts) through the readers of src/io, one child process per format so that each one's peak memory is its
 * own. A file passes when it decodes or is refused with a UserError of one line naming it; anything else (an
 * exception of another kind, a crash of the process, a hang) is reported with the mutant and what made it.
 *
 *   node dist/test/fuzz/run.js [--count N] [--seed S] [--jobs J] [--json]
 *       N mutants in all (default 5000), shared among the formats; prints a table per format: tried, refused,
 *       decoded, peak RSS, slowest file; exits 1 on any failure.
 *   node dist/test/fuzz/run.js --child FORMAT --count N --seed S
 *       one format (or "bombs") in this process; prints its summary as JSON.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../../src/core/errors.js";
import { readCsv } from "../../src/io/csv.js";
import { maskFromDecoded, readImageFile } from "../../src/io/image-read.js";
import { readNpy } from "../../src/io/npy.js";
import { setDecodeLimits, type DecodeLimits } from "../../src/io/limits.js";
import { readSafetensors } from "../../src/io/safetensors.js";
import { fileBombs } from "./bombs.js";
import { FORMATS, makeFixtures, type FuzzFormat } from "./fixtures.js";
import { mutants } from "./mutate.js";

/** One format's results. */
export interface FormatSummary {
  format: string;
  tried: number;
  refused: number;
  decoded: number;
  /** Files that neither decoded nor were refused properly, or that stopped the process. */
  failures: { name: string; how: string; problem: string }[];
  maxMs: number;
  slowest: string;
  /** Peak resident memory of the process that read them, MiB. */
  maxRssMiB: number;
  /** One refusal message per distinct beginning, for a look at what users see. */
  samples: string[];
}

const GROUPS = [...FORMATS, "bombs"] as const;

/** Reads one file with the reader of its format; "decoded", or the refusal's message. */
async function read(format: string, file: string): Promise<string> {
  switch (format) {
    case "safetensors":
      readSafetensors(file);
      return "decoded";
    case "npy":
      readNpy(file);
      return "decoded";
    case "csv":
      readCsv(file);
      return "decoded";
    default: {
      const d = await readImageFile(file);
      // The mask reading of the first frame too: label maps of any shape reach it.
      try {
        maskFromDecoded(d, d.frames[0]!);
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
      }
      return "decoded";
    }
  }
}

/** The files of a group: [name, what made it, how to put it at `file`, the reader's format]. */
type Item = { name: string; how: string; format: string; make: (file: string) => void };

async function itemsOf(group: string, count: number, seed: number): Promise<Item[]> {
  const write = (bytes: Uint8Array) => (file: string) => fs.writeFileSync(file, bytes);
  if (group === "bombs") {
    const items: Item[] = (await fileBombs()).map((b) => ({
      name: b.name,
      how: b.before,
      format: "image",
      make: write(b.bytes),
    }));
    const link = (target: string) => (file: string) => fs.symlinkSync(target, file);
    const fifo = (file: string): void => {
      // node has no mkfifo; the shell's is in every Debian.
      if (spawnSync("mkfifo", [file]).status !== 0) throw new Error(`mkfifo ${file} failed`);
    };
    items.push(
      {
        name: "zero.png",
        how: "/dev/zero (a symlink to it) as an image",
        format: "image",
        make: link("/dev/zero"),
      },
      { name: "fifo.png", how: "a FIFO as an image", format: "image", make: fifo },
      { name: "folder.png", how: "a folder as an image", format: "image", make: (f) => fs.mkdirSync(f) },
      {
        name: "model.safetensors",
        how: "weights as a symlink to /dev/zero",
        format: "safetensors",
        make: link("/dev/zero"),
      },
      { name: "fifo.safetensors", how: "weights as a FIFO", format: "safetensors", make: fifo },
      {
        name: "layout.csv",
        how: "a CSV layout as a symlink to /dev/zero",
        format: "csv",
        make: link("/dev/zero"),
      },
      { name: "frames.npy", how: "a .npy as a FIFO", format: "npy", make: fifo },
    );
    return items;
  }
  const fixtures = (await makeFixtures()).filter((f) => f.format === group);
  // The fixtures themselves first: they must decode (a fuzz run over broken fixtures proves nothing).
  const items: Item[] = fixtures.map((f) => ({
    name: f.name,
    how: "fixture",
    format: group,
    make: write(f.bytes),
  }));
  for (const m of mutants(fixtures, count, seed * 1009 + GROUPS.indexOf(group as FuzzFormat)))
    items.push({ name: m.name, how: m.how, format: group, make: write(m.bytes) });
  return items;
}

/** What reading one file did: "decoded" or "refused" (with the message) or "failed" (anything else). */
export interface OneResult {
  outcome: "decoded" | "refused" | "failed";
  message: string;
  ms: number;
  maxRssMiB: number;
}

async function readOne(format: string, file: string): Promise<OneResult> {
  const t0 = performance.now();
  let outcome: OneResult["outcome"] = "decoded";
  let message = "";
  try {
    await read(format, file);
  } catch (e) {
    outcome = e instanceof UserError ? "refused" : "failed";
    message = e instanceof Error ? e.message : String(e);
  }
  const ms = performance.now() - t0;
  return { outcome, message, ms, maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) };
}

/**
 * Reads one file in a child process under `limits` (the defaults where not given), killed after `timeoutMs`:
 * the time and peak memory a hostile file costs, measured apart from the test runner.
 */
export function readInChild(
  file: string,
  opts: { format?: string; limits?: Partial<DecodeLimits>; timeoutMs?: number } = {},
): Promise<OneResult | { outcome: "killed"; ms: number }> {
  const script = fileURLToPath(import.meta.url);
  const args = [
    script,
    "--file",
    file,
    "--format",
    opts.format ?? "image",
    "--limits",
    JSON.stringify(opts.limits ?? {}),
  ];
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0 && out) resolve(JSON.parse(out) as OneResult);
      else resolve({ outcome: "killed", ms: Date.now() - t0 });
    });
  });
}

/** One group in this process: every file read in turn, each announced on stderr first (for a hang). */
async function runChild(group: string, count: number, seed: number): Promise<FormatSummary> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `nerveseg-fuzz-${group}-`));
  const s: FormatSummary = {
    format: group,
    tried: 0,
    refused: 0,
    decoded: 0,
    failures: [],
    maxMs: 0,
    slowest: "",
    maxRssMiB: 0,
    samples: [],
  };
  const seen = new Set<string>();
  try {
    for (const item of await itemsOf(group, count, seed)) {
      const file = path.join(dir, item.name);
      item.make(file);
      process.stderr.write(`start ${item.name}\n`);
      const t0 = performance.now();
      let problem: string | null = null;
      try {
        await read(item.format, file);
        s.decoded++;
        if (item.how === "fixture" || group === "bombs")
          problem = item.how === "fixture" ? null : "decoded: a bomb must be refused";
      } catch (e) {
        if (!(e instanceof UserError))
          problem = `${(e as Error)?.name ?? typeof e}: ${String((e as Error)?.message ?? e).slice(0, 300)}`;
        else if (e.message.includes("\n") || !e.message.startsWith(`${file}: `))
          problem = `bad message: ${e.message}`;
        else {
          s.refused++;
          if (item.how === "fixture") problem = `a fixture was refused: ${e.message}`;
          const head = e.message
            .slice(file.length + 2)
            .replace(/[\d,]+/g, "N")
            .slice(0, 40);
          if (!seen.has(head) && s.samples.length < 40) {
            seen.add(head);
            s.samples.push(e.message.slice(dir.length + 1));
          }
        }
      }
      const ms = performance.now() - t0;
      s.tried++;
      if (ms > s.maxMs) [s.maxMs, s.slowest] = [ms, item.name];
      if (problem) s.failures.push({ name: item.name, how: item.how, problem });
      fs.rmSync(file, { recursive: true, force: true });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  s.maxRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
  return s;
}

/** Runs one group in a child process; a crash or a hang (past `timeoutMs`) becomes a failure naming the file. */
export function runGroup(
  group: string,
  count: number,
  seed: number,
  timeoutMs: number,
): Promise<FormatSummary> {
  const script = fileURLToPath(import.meta.url);
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [script, "--child", group, "--count", String(count), "--seed", String(seed)],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    let last = "";
    child.stdout.on("data", (d: Buffer) => (out += d));
    child.stderr.on("data", (d: Buffer) => {
      const lines = String(d).trim().split("\n");
      last = lines[lines.length - 1]!.replace(/^start /, "");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      try {
        if (code === 0) return resolve(JSON.parse(out) as FormatSummary);
      } catch {
        // fall through: report what the child left
      }
      const why =
        signal === "SIGKILL"
          ? `still running after ${timeoutMs} ms`
          : `the process ended (${signal ?? `exit ${code}`})`;
      resolve({
        format: group,
        tried: 0,
        refused: 0,
        decoded: 0,
        failures: [{ name: last, how: "", problem: why }],
        maxMs: 0,
        slowest: last,
        maxRssMiB: 0,
        samples: [],
      });
    });
  });
}

/** Every group, `jobs` at a time, `count` mutants shared among the formats. */
export async function runAll(
  count: number,
  seed: number,
  jobs: number,
  timeoutMs: number,
): Promise<FormatSummary[]> {
  const per = Math.max(1, Math.ceil(count / FORMATS.length));
  const results: FormatSummary[] = new Array(GROUPS.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: jobs }, async () => {
      while (next < GROUPS.length) {
        const k = next++;
        results[k] = await runGroup(GROUPS[k]!, per, seed, timeoutMs);
      }
    }),
  );
  return results;
}

/** The per-format table. */
export function table(results: readonly FormatSummary[]): string {
  const rows = [["format", "tried", "refused", "decoded", "failed", "peak RSS MiB", "max ms", "slowest"]];
  for (const r of results)
    rows.push(
      [
        r.format,
        r.tried,
        r.refused,
        r.decoded,
        r.failures.length,
        r.maxRssMiB,
        r.maxMs.toFixed(0),
        r.slowest,
      ].map(String),
    );
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) =>
      r.map((v, c) => (c === 0 || c === 7 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join("  "),
    )
    .join("\n");
}

async function main(argv: string[]): Promise<void> {
  const arg = (name: string, fallback: string): string => {
    // The last one wins: `npm run fuzz -- --count 20000` follows the script's own --count.
    const i = argv.lastIndexOf(name);
    return i >= 0 && i + 1 < argv.length ? argv[i + 1]! : fallback;
  };
  const count = Number(arg("--count", "5000"));
  const seed = Number(arg("--seed", String(Date.now() % 100_000)));
  const one = arg("--file", "");
  if (one) {
    // One file, under the limits given as JSON: what the bomb tests measure.
    setDecodeLimits(JSON.parse(arg("--limits", "{}")) as Partial<DecodeLimits>);
    process.stdout.write(JSON.stringify(await readOne(arg("--format", "image"), one)));
    return;
  }
  const child = arg("--child", "");
  if (child) {
    process.stdout.write(JSON.stringify(await runChild(child, count, seed)));
    return;
  }
  const jobs = Number(arg("--jobs", String(Math.min(2, os.availableParallelism()))));
  const start = Date.now();
  const results = await runAll(count, seed, jobs, Number(arg("--timeout-ms", String(60_000 + count * 200))));
  if (argv.includes("--json")) process.stdout.write(JSON.stringify(results) + "\n");
  else {
    console.log(
      `fuzz: seed ${seed}, ${count} mutants + fixtures + bombs, ${jobs} job(s), ${((Date.now() - start) / 1000).toFixed(0)} s`,
    );
    console.log(table(results));
    for (const r of results)
      for (const f of r.failures) console.log(`FAILED ${r.format} ${f.name} (${f.how}): ${f.problem}`);
  }
  if (results.some((r) => r.failures.length > 0)) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1]))
  await main(process.argv.slice(2));
