// `nerveseg bench`'s printed report: one line per row, the bf16 / fp32 ratios of the same run, and the
// PyTorch baseline beside ours.
import type * as E from "../../engine/index.js";
import { REFERENCE_ROW, TRAIN_ROW, type BenchResult } from "./bench.js";
import { formatPytorch } from "./pytorch.js";

/** bf16 against fp32 from the same run: ms/img ratios and training peak RSS. */
function bf16Summary(r: BenchResult): string[] {
  const find = (pr: E.Precision, name: string, batch: number) =>
    r.rows.find((x) => x.precision === pr && x.name === name && x.batch === batch);
  if (r.bf16Skipped) return ["", `bf16 not benchmarked: ${r.bf16Skipped}`];
  const pairs: [string, string, number][] = [
    ["train batch 32", TRAIN_ROW, 32],
    ["inference batch 1", "inference", 1],
    ["inference batch 32", "inference", 32],
    ["reference preset training", REFERENCE_ROW, 32],
  ];
  const parts: string[] = [];
  for (const [label, name, batch] of pairs) {
    const a = find("fp32", name, batch);
    const b = find("bf16", name, batch);
    if (a && b) parts.push(`${label} ${(b.msPerImage / a.msPerImage).toFixed(2)}x`);
  }
  const ta = find("fp32", TRAIN_ROW, 32);
  const tb = find("bf16", TRAIN_ROW, 32);
  const ra = find("fp32", REFERENCE_ROW, 32);
  const rb = find("bf16", REFERENCE_ROW, 32);
  const peaks = Object.entries(r.peakGflopsByPrecision)
    .map(([k, v]) => `${k} ${v.toFixed(0)}`)
    .join(", ");
  const lines = ["", `measured peaks (GFLOP/s): ${peaks}`];
  if (parts.length) lines.push(`bf16 / fp32 ms per image (same run): ${parts.join(", ")}`);
  if (ta?.peakRssMiB && tb?.peakRssMiB)
    lines.push(
      `training peak RSS: fp32 ${ta.peakRssMiB.toFixed(0)} MiB, bf16 ${tb.peakRssMiB.toFixed(0)} MiB`,
    );
  if (ra && rb)
    lines.push(
      `reference preset training (batch 32): fp32 ${(1000 / ra.msPerImage).toFixed(2)} img/s, ` +
        `bf16 ${(1000 / rb.msPerImage).toFixed(2)} img/s`,
    );
  return lines;
}

/** The result as an aligned text table. */
export function formatBench(r: BenchResult): string {
  const lines = [
    `${r.net}: ${(r.parameters / 1e6).toFixed(2)}M parameters, ${r.forwardGflopPerImage.toFixed(2)} GFLOP/image forward, ` +
      `${r.threads} threads, oneDNN ${r.onednn}, measured peak ${r.peakGflops.toFixed(0)} GFLOP/s`,
    "",
    "| run | precision | batch | ms/img | of which convs | GFLOP/s | % peak of its precision | peak RSS MiB | onnxruntime ms/img | ORT / ours |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const x of r.rows)
    lines.push(
      `| ${x.name} | ${x.precision} | ${x.batch} | ${x.msPerImage.toFixed(2)} | ${x.convMsPerImage.toFixed(2)} | ` +
        `${x.gflops.toFixed(1)} | ${x.pctPeak.toFixed(0)}% | ` +
        `${x.peakRssMiB?.toFixed(0) ?? "-"} | ${x.onnxruntimeMsPerImage?.toFixed(2) ?? "-"} | ` +
        `${x.speedupVsOnnxruntime ? `${x.speedupVsOnnxruntime.toFixed(2)}x` : "-"} |`,
    );
  lines.push(...bf16Summary(r));
  if (r.onnxMaxAbsDiff !== null)
    lines.push(
      "",
      `onnxruntime vs ours (fp32), batch 32 mask: max abs diff ${r.onnxMaxAbsDiff.toExponential(2)}`,
    );
  if (r.onnxruntimeError) lines.push("", `onnxruntime-node unavailable: ${r.onnxruntimeError}`);
  const ms = (name: string, batch: number) =>
    r.rows.find((x) => x.precision === "fp32" && x.name === name && x.batch === batch)?.msPerImage;
  lines.push(
    "",
    ...formatPytorch(r.pytorch, {
      train32: ms(TRAIN_ROW, 32),
      infer1: ms("inference", 1),
      infer32: ms("inference", 32),
    }),
  );
  return lines.join("\n");
}
