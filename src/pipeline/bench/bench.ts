// `nerveseg bench`: the reference net UNet-64x80 trained and run by the engine, the machine's
// peak measured with one large oneDNN convolution, and onnxruntime-node on the same exported net.
// Times are the best of several repeats (the least disturbed by other processes).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as E from "../../engine/index.js";
import { native, ActCode } from "../../engine/native.js";
import { PRESETS } from "../../model/config.js";
import { runPytorch, type PytorchResult } from "./pytorch.js";
import { best, timeIt, timeWithConvs } from "./timing.js";
import { exportOnnx } from "../../model/onnx-export.js";
import { UNet } from "../../model/unet.js";
import { unetFlopsPerImage } from "./flops.js";

export const UNET_FILTERS = [32, 64, 128, 256, 512] as const;
export const UNET_H = 64;
export const UNET_W = 80;

export interface BenchRow {
  name: string;
  /** The convolutions' precision of this row (everything else is fp32). */
  precision: E.Precision;
  batch: number;
  msPerImage: number;
  /** Of msPerImage: time inside oneDNN convolutions (the conv-only bound), in the same (best) run. */
  convMsPerImage: number;
  gflops: number;
  /** Of the measured peak of this row's precision. */
  pctPeak: number;
  /**
   * Peak RSS of a fresh process running only this row's work (training, or inference at this batch);
   * null for the reference preset's row (timed only).
   */
  peakRssMiB: number | null;
  onnxruntimeMsPerImage: number | null;
  /** onnxruntime time / ours (> 1: we are faster). */
  speedupVsOnnxruntime: number | null;
}

export interface BenchResult {
  net: string;
  parameters: number;
  threads: number;
  onednn: string;
  /** The fp32 peak (one large oneDNN conv). */
  peakGflops: number;
  /** The same conv measured in each precision benchmarked. */
  peakGflopsByPrecision: Partial<Record<E.Precision, number>>;
  /** Why bf16 was not benchmarked, when it was not. */
  bf16Skipped: string | null;
  forwardGflopPerImage: number;
  rows: BenchRow[];
  onnxMaxAbsDiff: number | null;
  onnxruntimeError: string | null;
  /** The same net and step in PyTorch, in the same run (where python3-torch is installed). */
  pytorch: PytorchResult;
}

export interface BenchOptions {
  threads?: number;
  /** auto (default): fp32 and, where the CPU has it, bf16 side by side; or only one of them. */
  precision?: E.PrecisionChoice;
  trainSteps?: number;
  repeats?: number;
  log?: (line: string) => void;
}

/**
 * Best-case GFLOP/s of one large 3x3 convolution (the practical peak of this machine) at `precision`,
 * its input and output stored as training stores activations (bf16: packed, no conversion).
 */
export function measurePeakGflops(precision: E.Precision): number {
  const [n, h, w, c, oc] = [32, 16, 20, 256, 256];
  const dtype = E.activationDType(precision);
  const x = new E.Tensor([n, h, w, c], { dtype });
  if (dtype === "bf16")
    new Uint16Array(x.raw.buffer, x.raw.byteOffset, x.size).fill(0x3c24); // 0.01
  else x.data.fill(0.01);
  const wt = E.full([3, 3, c, oc], 0.01);
  const y = new E.Tensor([n, h, w, oc], { dtype });
  const bf16 = dtype === "bf16";
  const geom = { n, h, w, c, oc, kh: 3, kw: 3, s: 1, p: 1, oh: h, ow: w };
  const run = () =>
    native.convForward({
      x: x.raw,
      w: wt.data,
      b: null,
      y: y.raw,
      geom,
      act: ActCode.None,
      alpha: 1,
      wPrepared: false,
      xBf16: bf16,
      yBf16: bf16,
      precision,
    });
  run();
  const ms = timeIt(8, run);
  for (const t of [x, wt, y]) t.dispose();
  return (2 * n * h * w * c * oc * 9) / (ms * 1e6);
}

/**
 * Peak RSS of a fresh process that only builds the net and runs `kind` (two training steps at batch 32,
 * or inference at `batch`) in `precision`: the RSS column, free of what the other passes left behind.
 */
export function peakRssRun(
  kind: "train" | "infer",
  precision: E.Precision,
  batch: number,
  threads: number,
): void {
  E.setThreads(threads);
  const net = benchNet(new E.Rng(1), precision);
  const img = new Float32Array(batch * UNET_H * UNET_W).fill(0.5);
  if (kind === "train") {
    const step = trainingStep(net, new E.Adam(net.parameters(), { lr: 1e-4 }), batch, img);
    step();
    step();
  } else {
    net.eval();
    for (let i = 0; i < 2; i++)
      E.tidy(() => E.noGrad(() => void net.forward(E.fromArray([batch, UNET_H, UNET_W, 1], img))));
  }
  // VmHWM, not getrusage's maxRSS: Linux carries the parent's peak into a child's maxRSS across fork + exec.
  const hwm = /VmHWM:\s*(\d+) kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
  const kib = hwm ? Number(hwm[1]) : process.resourceUsage().maxRSS;
  console.log(JSON.stringify({ maxRssMiB: kib / 1024 }));
}

function childPeakRssMiB(
  kind: "train" | "infer",
  precision: E.Precision,
  batch: number,
  threads: number,
): number {
  const self = pathToFileURL(fileURLToPath(import.meta.url)).href;
  const args = [kind, precision, batch, threads].map((a) => JSON.stringify(a)).join(", ");
  const script = `const b = await import(${JSON.stringify(self)}); b.peakRssRun(${args});`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  const last = (r.stdout ?? "").trim().split("\n").pop() ?? "";
  try {
    return (JSON.parse(last) as { maxRssMiB: number }).maxRssMiB;
  } catch {
    return NaN;
  }
}

/** Which precisions to run: auto = fp32 and, where supported, bf16. */
function precisionsOf(choice: E.PrecisionChoice): { list: E.Precision[]; bf16Skipped: string | null } {
  if (choice === "auto") {
    if (E.bf16Supported()) return { list: ["fp32", "bf16"], bf16Skipped: null };
    const why =
      process.env.NERVESEG_NO_BF16 === "1"
        ? "switched off by NERVESEG_NO_BF16=1"
        : "no AVX512-BF16 on this CPU";
    return { list: ["fp32"], bf16Skipped: why };
  }
  return { list: [E.resolvePrecision(choice)], bf16Skipped: choice === "fp32" ? "--precision fp32" : null };
}

/** The product's model at the fast preset's shape: UNet-64x80, filters 32..512, both heads. */
function benchNet(rng: E.Rng, precision: E.Precision): UNet {
  return new UNet(
    { ...PRESETS.fast.model, inputHeight: UNET_H, inputWidth: UNET_W, filters: [...UNET_FILTERS] },
    { mean: 0, std: 1 },
    rng,
    precision,
  );
}

interface Pass {
  precision: E.Precision;
  peak: number;
  repeats: number;
  trainSteps: number;
  img: Float32Array;
  log: (line: string) => void;
  rows: BenchRow[];
}

export const TRAIN_ROW = "train (fwd+bwd+Adam)";
export const REFERENCE_ROW = "train, reference preset (160x160, 5x5, SGD)";

/** Forward convs and both gradients (about twice the forward; the first layer has no data gradient). */
function trainFlopsPerImage(net: UNet): number {
  const m = net.config;
  const fwd = unetFlopsPerImage(m.filters, m.inputHeight, m.inputWidth, 1, m.kernel);
  return 3 * fwd - 2 * m.inputHeight * m.inputWidth * m.filters[0] * m.kernel * m.kernel;
}

/**
 * One training step of `net` at `batch` (Dice + 0.5 presence BCE, the optimizer's step) on frames
 * tiled from `pixels`, a third of them without a nerve.
 */
export function trainingStep(net: UNet, opt: E.Optimizer, batch: number, pixels: Float32Array): () => void {
  const { inputHeight: h, inputWidth: w } = net.config;
  const img = Float32Array.from({ length: batch * h * w }, (_, i) => pixels[i % pixels.length]);
  const mask = Float32Array.from(img, (v) => (v > 0.7 ? 1 : 0));
  const has = Float32Array.from({ length: batch }, (_, i) => (i % 3 === 0 ? 0 : 1));
  return () =>
    E.tidy(() => {
      const out = net.forward(E.fromArray([batch, h, w, 1], img));
      const loss = E.add(
        E.diceLoss(out.mask, E.fromArray(out.mask.shape, mask)),
        E.bceLoss(out.presence!, E.fromArray([batch, 1], has)),
      );
      opt.zeroGrad();
      loss.backward();
      opt.step();
    });
}

/**
 * One precision: its peak, batch-32 training and batch-1/32 inference on a fresh net with the same
 * weights (seed 1); returns the net in eval mode with its inference rows.
 */
function runPass(p: Pass): { net: UNet; inferRows: [number, BenchRow][] } {
  const net = benchNet(new E.Rng(1), p.precision);
  const fwdFlops = unetFlopsPerImage(UNET_FILTERS, UNET_H, UNET_W);
  const row = (
    name: string,
    batch: number,
    t: ReturnType<typeof timeWithConvs>,
    flops: number,
    rss = true,
  ): BenchRow => {
    const gflops = (flops * batch) / (t.ms * 1e6);
    const r: BenchRow = {
      name,
      precision: p.precision,
      batch,
      msPerImage: t.ms / batch,
      convMsPerImage: t.convMs / batch,
      gflops,
      pctPeak: (100 * gflops) / p.peak,
      peakRssMiB: rss
        ? childPeakRssMiB(name.startsWith("train") ? "train" : "infer", p.precision, batch, E.getThreads())
        : null,
      onnxruntimeMsPerImage: null,
      speedupVsOnnxruntime: null,
    };
    p.rows.push(r);
    return r;
  };

  // Training: forward + backward + Adam at batch 32.
  const B = 32;
  const opt = new E.Adam(net.parameters(), { lr: 1e-4 });
  const step = trainingStep(net, opt, B, p.img);
  p.log(`${p.precision}: training batch 32...`);
  step();
  step();
  row(TRAIN_ROW, B, timeWithConvs(p.trainSteps, step), trainFlopsPerImage(net));
  opt.dispose();

  // The reference preset (160x160, 5x5, SGD + Nesterov, batch 32): about 14x the work per image,
  // so two timed steps; its img/s is what a user of that recipe waits on.
  p.log(`${p.precision}: reference preset training batch 32...`);
  const refNet = new UNet(PRESETS.reference.model, { mean: 0, std: 1 }, new E.Rng(1), p.precision);
  const rt = PRESETS.reference.train;
  const sgd = new E.SGD(refNet.parameters(), { lr: 1e-3, momentum: rt.momentum, nesterov: rt.nesterov });
  const refStep = trainingStep(refNet, sgd, rt.batch, p.img);
  refStep();
  row(REFERENCE_ROW, rt.batch, timeWithConvs(2, refStep), trainFlopsPerImage(refNet), false);
  sgd.dispose();
  refNet.dispose();

  // Inference: eval mode (BN folded, ELU as a post-op), batch 1 and 32.
  net.eval();
  const inferRows: [number, BenchRow][] = [];
  for (const b of [1, 32]) {
    p.log(`${p.precision}: inference batch ${b}...`);
    const x = E.fromArray([b, UNET_H, UNET_W, 1], p.img.subarray(0, b * UNET_H * UNET_W));
    const run = () => E.tidy(() => E.noGrad(() => void net.forward(x)));
    run();
    run();
    inferRows.push([
      b,
      row(`inference`, b, timeWithConvs(b === 1 ? p.repeats * 4 : p.repeats, run), fwdFlops),
    ]);
    x.dispose();
  }
  return { net, inferRows };
}

export async function runBench(opts: BenchOptions = {}): Promise<BenchResult> {
  const log = opts.log ?? (() => {});
  if (opts.threads) E.setThreads(opts.threads);
  const threads = E.getThreads();
  const repeats = opts.repeats ?? 5;
  const { list, bf16Skipped } = precisionsOf(opts.precision ?? "auto");
  const peaks: Partial<Record<E.Precision, number>> = {};
  for (const pr of list) {
    log(`measuring the ${pr} peak (one large oneDNN conv, ${threads} threads)...`);
    peaks[pr] = measurePeakGflops(pr);
  }
  const inputRng = new E.Rng(2);
  const img = Float32Array.from({ length: 32 * UNET_H * UNET_W }, () => inputRng.uniform());
  const rows: BenchRow[] = [];
  let fp32: { net: UNet; inferRows: [number, BenchRow][] } | null = null;
  let parameters = 0;
  for (const pr of list) {
    const pass = runPass({
      precision: pr,
      peak: peaks[pr]!,
      repeats,
      trainSteps: opts.trainSteps ?? repeats,
      img,
      log,
      rows,
    });
    parameters = pass.net.parameterCount();
    if (pr === "fp32") fp32 = pass;
    else pass.net.dispose();
    E.releaseMemoryPool();
  }

  // onnxruntime-node on the same weights (the export is fp32), against the fp32 rows.
  let onnxMaxAbsDiff: number | null = null;
  let onnxruntimeError: string | null = fp32 ? null : "not run (fp32 not benchmarked)";
  if (fp32) {
    const { net, inferRows } = fp32;
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
    net.dispose();
  }
  const result: BenchResult = {
    net: "UNet-64x80",
    parameters,
    threads,
    onednn: native.version(),
    peakGflops: peaks.fp32 ?? peaks.bf16!,
    peakGflopsByPrecision: peaks,
    bf16Skipped,
    forwardGflopPerImage: unetFlopsPerImage(UNET_FILTERS, UNET_H, UNET_W) / 1e9,
    rows,
    onnxMaxAbsDiff,
    onnxruntimeError,
    pytorch: { skipped: "not run" },
  };
  log("PyTorch on the same net (where python3-torch is installed)...");
  result.pytorch = runPytorch(threads, repeats);
  return result;
}
