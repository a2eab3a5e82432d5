/*
 * The optional PyTorch baseline of `nerveseg bench`: where Debian's python3-torch is installed, the same
 * net and step run in PyTorch (bench/torch_unet.py at the package root) right after ours, so the comparison is of one machine
 * at one time. Elsewhere it is skipped with a note; nerveseg itself never needs Python.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export type PytorchResult =
  { torch: string; train32: number; infer1: number; infer32: number } | { skipped: string };

const PYTHON = "/usr/bin/python3";
// From dist/src/pipeline/bench (where it runs) up to the package root, where bench/ holds the script.
const SCRIPT = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../..",
  "bench",
  "torch_unet.py",
);

export function runPytorch(threads: number, repeats: number): PytorchResult {
  const probe = spawnSync(PYTHON, ["-c", "import torch"], { encoding: "utf8" });
  if (probe.status !== 0)
    return { skipped: "PyTorch not installed (apt-get install python3-torch to compare in the same run)" };
  const r = spawnSync(PYTHON, [SCRIPT, String(threads), String(repeats)], {
    encoding: "utf8",
    timeout: 600_000,
  });
  if (r.status !== 0)
    return {
      skipped: `PyTorch run failed: ${(r.stderr || r.error?.message || "").trim().split("\n").pop()}`,
    };
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as PytorchResult;
}

/** The comparison lines under the bench table. */
export function formatPytorch(
  p: PytorchResult,
  ours: { train32?: number; infer1?: number; infer32?: number },
): string[] {
  if ("skipped" in p) return [`PyTorch: skipped — ${p.skipped}`];
  const ratio = (a?: number, b?: number) => (a && b ? ` (ours ${(a / b).toFixed(2)}x its time)` : "");
  return [
    `PyTorch ${p.torch} on the same net in the same run (channels_last, Adam, Dice + 0.5 BCE):`,
    `  train batch 32: ${p.train32.toFixed(2)} ms/img${ratio(ours.train32, p.train32)}`,
    `  inference batch 1: ${p.infer1.toFixed(2)} ms/img${ratio(ours.infer1, p.infer1)}; batch 32: ${p.infer32.toFixed(2)} ms/img${ratio(ours.infer32, p.infer32)}`,
  ];
}
