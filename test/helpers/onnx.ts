// Running an exported graph in onnxruntime-node and comparing it with the engine's output.
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";

/** Runs ONNX bytes once on the given float32 feeds and returns the outputs by name. */
export async function runOnnx(
  bytes: Uint8Array,
  feeds: Record<string, { dims: number[]; data: Float32Array }>,
): Promise<ort.InferenceSession.ReturnType> {
  const session = await ort.InferenceSession.create(bytes);
  const f: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(feeds)) f[k] = new ort.Tensor("float32", v.data, v.dims);
  const out = await session.run(f);
  await session.release();
  return out;
}

/** Largest absolute difference between two equally long arrays. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}
