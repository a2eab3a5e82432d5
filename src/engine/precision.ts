// The convolutions' compute precision: fp32 (the default) or bf16 where the CPU has AVX512-BF16. It
// belongs to a model (UNet's `precision`, which passes it to every op that depends on it: conv2d,
// convBnAct, conv2dActInference), not to the process, so models of both precisions share one process.
// In bf16 the convolutions (forward, both gradients, and inference on prepared weights) read bf16
// copies of their inputs and write fp32, with fp32 accumulation inside oneDNN; everything else —
// master weights, optimizer state, BatchNorm statistics, the dense layer, losses and metrics — stays
// fp32 (mixed precision as in AMP). The activations between layers are stored in bf16 too (packed
// bf16 tensors, tensor.ts; ops/batchnorm.ts). A convolution shape oneDNN has no fast bf16 kernel for
// stays fp32.
import { native } from "./native.js";
import type { Precision } from "./native-entries.js";
import type { DType } from "./tensor.js";

export type { Precision } from "./native-entries.js";
/** What a user asks for: `auto` is bf16 where supported, else fp32. */
export type PrecisionChoice = Precision | "auto";
export const PRECISION_CHOICES: readonly PrecisionChoice[] = ["auto", "fp32", "bf16"];

/**
 * Whether bf16 compute is available: the CPU has AVX512-BF16 (oneDNN's effective ISA) and the
 * environment does not switch it off with NERVESEG_NO_BF16=1. (The switch applies where a precision is
 * chosen: resolvePrecision, and a UNet built at bf16; the addon itself checks only the CPU.)
 */
export function bf16Supported(): boolean {
  if (process.env.NERVESEG_NO_BF16 === "1") return false;
  return native.bf16Supported();
}

/** How activations are stored at precision p: packed bf16 in bf16, else fp32. */
export function activationDType(p: Precision): DType {
  return p === "bf16" ? "bf16" : "f32";
}

/** "auto" -> bf16 where supported, else fp32; "bf16" where unsupported is an error that says why. */
export function resolvePrecision(choice: PrecisionChoice): Precision {
  if (choice === "auto") return bf16Supported() ? "bf16" : "fp32";
  if (choice === "bf16" && !bf16Supported()) throw new Error(bf16Unsupported());
  if (choice !== "fp32" && choice !== "bf16")
    throw new Error(`precision: expected auto, fp32 or bf16, got ${String(choice)}`);
  return choice;
}

function bf16Unsupported(): string {
  return process.env.NERVESEG_NO_BF16 === "1"
    ? "bf16 precision is switched off by NERVESEG_NO_BF16=1; use --precision fp32 or auto"
    : "bf16 precision is not supported on this CPU (needs AVX512-BF16); use --precision fp32 or auto";
}

/**
 * Resolves a user's choice; returns what was chosen and the one line to tell the user (null for an
 * explicit fp32, the default, which changes nothing). Sets nothing: the caller hands the precision
 * to the model it builds.
 */
export function choosePrecision(choice: PrecisionChoice): { precision: Precision; line: string | null } {
  const precision = resolvePrecision(choice);
  let line: string | null = null;
  if (choice === "auto")
    line =
      precision === "bf16"
        ? "precision: bf16 (auto: the CPU has AVX512-BF16; convolutions and stored activations in bf16, the rest fp32)"
        : `precision: fp32 (auto: ${
            process.env.NERVESEG_NO_BF16 === "1"
              ? "bf16 switched off by NERVESEG_NO_BF16=1"
              : "no AVX512-BF16 on this CPU"
          })`;
  else if (precision === "bf16")
    line = "precision: bf16 (convolutions and stored activations in bf16, the rest fp32)";
  return { precision, line };
}
