// One fixed sequence of work for a model of each precision (test/model/precision-context.test.ts): eval
// forwards, Adam training steps and eval forwards again, either for one model alone or for an fp32 and
// a bf16 model interleaved step by step in one process. Each model's trace (digests of its outputs,
// losses and weights, in order) depends only on its own steps, whatever ran in between.
import crypto from "node:crypto";
import * as E from "../../src/engine/index.js";
import type { UNet } from "../../src/model/unet.js";
import { smallUNet } from "./unet.js";

export type Trace = Partial<Record<E.Precision, string[]>>;

const SIZE = 16;

function digest(values: readonly Float32Array[]): string {
  const h = crypto.createHash("sha256");
  for (const v of values) h.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  return h.digest("hex").slice(0, 24);
}

/** Input batch k (n images), the same for every model and run. */
function batch(k: number, n: number): Float32Array {
  const rng = new E.Rng(100 + k);
  return Float32Array.from({ length: n * SIZE * SIZE }, () => rng.uniform());
}

function evalForward(net: UNet, k: number): string {
  net.eval();
  return E.tidy(() =>
    E.noGrad(() => {
      const out = net.forward(E.fromArray([3, SIZE, SIZE, 1], batch(k, 3)));
      return digest([out.mask.toFloat32Array(), out.presence!.toFloat32Array()]);
    }),
  );
}

function trainStep(net: UNet, opt: E.Adam, k: number): string {
  net.train();
  const img = batch(k, 4);
  const loss = E.tidy(() => {
    const out = net.forward(E.fromArray([4, SIZE, SIZE, 1], img));
    const l = E.add(
      E.diceLoss(
        out.mask,
        E.fromArray(
          out.mask.shape,
          img.map((v) => (v > 0.6 ? 1 : 0)),
        ),
      ),
      E.bceLoss(out.presence!, E.fromArray([4, 1], [1, 0, 1, 1])),
    );
    opt.zeroGrad();
    l.backward();
    opt.step();
    return l.toFloat32Array();
  });
  // The step's loss, and every weight and BN statistic after it.
  return digest([
    loss,
    ...[...net.namedParameters(), ...net.namedBuffers()].map(([, t]) => t.toFloat32Array()),
  ]);
}

/**
 * Runs the sequence for the models of `precisions` (in this order within each step) and returns each
 * model's trace. Both start from the same weights (seed 1).
 */
export function precisionScenario(precisions: readonly E.Precision[]): Trace {
  const models = precisions.map((p) => {
    const net = smallUNet([4, 8, 16], SIZE, new E.Rng(1), p);
    return { p, net, opt: new E.Adam(net.parameters(), { lr: 1e-2 }), trace: [] as string[] };
  });
  const each = (f: (m: (typeof models)[number]) => string) => {
    for (const m of models) m.trace.push(f(m));
  };
  // fp32 forward, bf16 forward, fp32 forward again (the fp32 model's second forward follows bf16 work).
  each((m) => evalForward(m.net, 0));
  const fp32 = models.find((m) => m.p === "fp32");
  if (fp32) fp32.trace.push(evalForward(fp32.net, 0));
  for (let k = 1; k <= 3; k++) each((m) => trainStep(m.net, m.opt, k));
  // Eval again with the new weights (the cached kernel-layout weights are refreshed per model).
  each((m) => evalForward(m.net, 0));
  each((m) => evalForward(m.net, 4));
  const out: Trace = {};
  for (const m of models) {
    out[m.p] = m.trace;
    m.opt.dispose();
    m.net.dispose();
  }
  return out;
}
