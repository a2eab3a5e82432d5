// `nerveseg bench`: the reference net UNet-64x80 trained and run by the engine, the machine's
// peak measured with one large oneDNN convolution, and onnxruntime-node on the same exported net.
// Times are the best of several repeats (the least disturbed by other processes).
import * as E from "../src/engine/index.js";
import { native, ActCode } from "../src/engine/native.js";
import { PRESETS } from "../src/model/config.js";
import { formatPytorch, runPytorch, type PytorchResult } from "./pytorch.js";
import { exportOnnx } from "../src/model/onnx-export.js";
import { UNet } from "../src/model/unet.js";
import { unetFlopsPerImage } from "./flops.js";

export const UNET_FILTERS = [32, 64, 128, 256, 512] as const;
export const UNET_H = 64;
export const UNET_W = 80;

export interface BenchRow {
  name: string;
  batch: number;
  msPerImage: number;
  /** Of msPerImage: time inside oneDNN convolutions (the conv-only bound), in the same (best) run. */
  convMsPerImage: number;
  gflops: number;
  pctPeak: number;
  peakRssMiB: number;
  onnxruntimeMsPerImage: number | null;
  /** onnxruntime time / ours (> 1: we are faster). */
  speedupVsOnnxruntime: number | null;
}

export interface BenchResult {
  net: string;
  parameters: number;
  threads: number;
  onednn: string;
  peakGflops: number;
  forwardGflopPerImage: number;
  rows: BenchRow[];
  onnxMaxAbsDiff: number | null;
  onnxruntimeError: string | null;
  /** The same net and step in PyTorch, in the same run (where python3-torch is installed). */
  pytorch: PytorchResult;
}

export interface BenchOptions {
  threads?: number;
  trainSteps?: number;
  repeats?: number;
  log?: (line: string) => void;
}

function best(times: number[]): number {
  return Math.min(...times);
}

function timeIt(reps: number, fn: () => void): number {
  const out: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    fn();
    out.push(performance.now() - t);
  }
  return best(out);
}

const CONV_FNS = ["convForward", "convBackwardData", "convBackwardWeights"] as const;

/** Runs fn once with the native conv calls timed; returns their total ms. */
/**
 * Best of `reps` runs of fn, with the native conv calls timed in every run: returns the best run's
 * total ms and the conv ms of that same run (so both see the same machine load).
 */
function timeWithConvs(reps: number, fn: () => void): { ms: number; convMs: number } {
  const n = native as unknown as Record<string, (...a: unknown[]) => unknown>;
  const saved = CONV_FNS.map((k) => n[k]);
  let conv = 0;
  CONV_FNS.forEach((k, i) => {
    n[k] = (...a: unknown[]) => {
      const t = performance.now();
      const r = saved[i](...a);
      conv += performance.now() - t;
      return r;
    };
  });
  let best = { ms: Infinity, convMs: 0 };
  try {
    for (let i = 0; i < reps; i++) {
      conv = 0;
      const t = performance.now();
      fn();
      const ms = performance.now() - t;
      if (ms < best.ms) best = { ms, convMs: conv };
    }
  } finally {
    CONV_FNS.forEach((k, i) => (n[k] = saved[i]));
  }
  return best;
}

function maxRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** Best-case GFLOP/s of one large 3x3 convolution (the practical peak of this machine). */
export function measurePeakGflops(): number {
  const [n, h, w, c, oc] = [32, 16, 20, 256, 256];
  const x = E.full([n, h, w, c], 0.01);
  const wt = E.full([3, 3, c, oc], 0.01);
  const y = new E.Tensor([n, h, w, oc]);
  const run = () =>
    native.convForward(
      x.data,
      wt.data,
      null,
      y.data,
      n,
      h,
      w,
      c,
      oc,
      3,
      3,
      1,
      1,
      h,
      w,
      ActCode.None,
      1,
      false,
    );
  run();
  const ms = timeIt(8, run);
  for (const t of [x, wt, y]) t.dispose();
  return (2 * n * h * w * c * oc * 9) / (ms * 1e6);
}

export async function runBench(opts: BenchOptions = {}): Promise<BenchResult> {
  const log = opts.log ?? (() => {});
  if (opts.threads) E.setThreads(opts.threads);
  const threads = E.getThreads();
  const repeats = opts.repeats ?? 5;
  log(`measuring peak (one large oneDNN conv, ${threads} threads)...`);
  const peak = measurePeakGflops();
  const rng = new E.Rng(1);
  // The product's model at the fast preset's shape: UNet-64x80, filters 32..512, both heads.
  const net = new UNet(
    { ...PRESETS.fast.model, inputHeight: UNET_H, inputWidth: UNET_W, filters: [...UNET_FILTERS] },
    { mean: 0, std: 1 },
    rng,
  );
  const fwdFlops = unetFlopsPerImage(UNET_FILTERS, UNET_H, UNET_W);
  const rows: BenchRow[] = [];
  const row = (name: string, batch: number, t: { ms: number; convMs: number }, flops: number): BenchRow => {
    const ms = t.ms;
    const gflops = (flops * batch) / (ms * 1e6);
    const r: BenchRow = {
      name,
      batch,
      msPerImage: ms / batch,
      convMsPerImage: t.convMs / batch,
      gflops,
      pctPeak: (100 * gflops) / peak,
      peakRssMiB: maxRssMiB(),
      onnxruntimeMsPerImage: null,
      speedupVsOnnxruntime: null,
    };
    rows.push(r);
    return r;
  };

  // Training: forward + backward + Adam at batch 32.
  const B = 32;
  const img = Float32Array.from({ length: B * UNET_H * UNET_W }, () => rng.uniform());
  const mask = Float32Array.from(img, (v) => (v > 0.7 ? 1 : 0));
  const has = Float32Array.from({ length: B }, (_, i) => (i % 3 === 0 ? 0 : 1));
  const opt = new E.Adam(net.parameters(), { lr: 1e-4 });
  const step = () =>
    E.tidy(() => {
      const x = E.fromArray([B, UNET_H, UNET_W, 1], img);
      const out = net.forward(x);
      const loss = E.add(
        E.diceLoss(out.mask, E.fromArray(out.mask.shape, mask)),
        E.bceLoss(out.presence!, E.fromArray([B, 1], has)),
      );
      opt.zeroGrad();
      loss.backward();
      opt.step();
    });
  log("training batch 32...");
  step();
  step();
  // Backward convs (data + weights) cost about twice the forward; the first layer has no data gradient.
  const trainFlops = 3 * fwdFlops - 2 * UNET_H * UNET_W * 1 * UNET_FILTERS[0] * 9;
  row("train (fwd+bwd+Adam)", B, timeWithConvs(opts.trainSteps ?? repeats, step), trainFlops);
  opt.dispose();

  // Inference: eval mode (BN folded, ELU as a post-op), batch 1 and 32.
  net.eval();
  const inferRows: [number, BenchRow][] = [];
  for (const b of [1, 32]) {
    log(`inference batch ${b}...`);
    const x = E.fromArray([b, UNET_H, UNET_W, 1], img.subarray(0, b * UNET_H * UNET_W));
    const run = () => E.tidy(() => E.noGrad(() => void net.forward(x)));
    run();
    run();
    inferRows.push([b, row(`inference`, b, timeWithConvs(b === 1 ? repeats * 4 : repeats, run), fwdFlops)]);
    x.dispose();
  }

  // onnxruntime-node on the same weights.
  let onnxMaxAbsDiff: number | null = null;
  let onnxruntimeError: string | null = null;
  try {
    log("onnxruntime-node...");
    const ort = await import("onnxruntime-node");
    const session = await ort.InferenceSession.create(exportOnnx(net), {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
      executionMode: "sequential",
    });
    for (const [b, r] of inferRows) {
      const feed = {
        image: new ort.Tensor("float32", img.slice(0, b * UNET_H * UNET_W), [b, UNET_H, UNET_W, 1]),
      };
      await session.run(feed);
      await session.run(feed);
      const times: number[] = [];
      let out: Record<string, { data: unknown }> = {};
      for (let i = 0; i < (b === 1 ? repeats * 4 : repeats); i++) {
        const t = performance.now();
        out = await session.run(feed);
        times.push(performance.now() - t);
      }
      r.onnxruntimeMsPerImage = best(times) / b;
      r.speedupVsOnnxruntime = r.onnxruntimeMsPerImage / r.msPerImage;
      if (b === 32) {
        const ours = E.tidy(() =>
          E.noGrad(() => net.forward(E.fromArray([b, UNET_H, UNET_W, 1], img)).mask.toFloat32Array()),
        );
        const theirs = out.mask_probability.data as Float32Array;
        onnxMaxAbsDiff = 0;
        for (let i = 0; i < ours.length; i++)
          onnxMaxAbsDiff = Math.max(onnxMaxAbsDiff, Math.abs(ours[i] - theirs[i]));
      }
    }
    await session.release();
  } catch (e) {
    onnxruntimeError = e instanceof Error ? e.message : String(e);
  }
  const result: BenchResult = {
    net: "UNet-64x80",
    parameters: net.parameterCount(),
    threads,
    onednn: native.version(),
    peakGflops: peak,
    forwardGflopPerImage: fwdFlops / 1e9,
    rows,
    onnxMaxAbsDiff,
    onnxruntimeError,
    pytorch: { skipped: "not run" },
  };
  net.dispose();
  log("PyTorch on the same net (where python3-torch is installed)...");
  result.pytorch = runPytorch(threads, repeats);
  return result;
}

/** The result as an aligned text table. */
export function formatBench(r: BenchResult): string {
  const lines = [
    `${r.net}: ${(r.parameters / 1e6).toFixed(2)}M parameters, ${r.forwardGflopPerImage.toFixed(2)} GFLOP/image forward, ` +
      `${r.threads} threads, oneDNN ${r.onednn}, measured peak ${r.peakGflops.toFixed(0)} GFLOP/s`,
    "",
    "| run | batch | ms/img | of which convs | GFLOP/s | % peak | peak RSS MiB | onnxruntime ms/img | ORT / ours |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const x of r.rows)
    lines.push(
      `| ${x.name} | ${x.batch} | ${x.msPerImage.toFixed(2)} | ${x.convMsPerImage.toFixed(2)} | ` +
        `${x.gflops.toFixed(1)} | ${x.pctPeak.toFixed(0)}% | ` +
        `${x.peakRssMiB.toFixed(0)} | ${x.onnxruntimeMsPerImage?.toFixed(2) ?? "-"} | ` +
        `${x.speedupVsOnnxruntime ? `${x.speedupVsOnnxruntime.toFixed(2)}x` : "-"} |`,
    );
  if (r.onnxMaxAbsDiff !== null)
    lines.push("", `onnxruntime vs ours, batch 32 mask: max abs diff ${r.onnxMaxAbsDiff.toExponential(2)}`);
  if (r.onnxruntimeError) lines.push("", `onnxruntime-node unavailable: ${r.onnxruntimeError}`);
  const ms = (name: string, batch: number) =>
    r.rows.find((x) => x.name.startsWith(name) && x.batch === batch)?.msPerImage;
  lines.push(
    "",
    ...formatPytorch(r.pytorch, {
      train32: ms("train", 32),
      infer1: ms("infer", 1),
      infer32: ms("infer", 32),
    }),
  );
  return lines.join("\n");
}
