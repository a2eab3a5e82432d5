import assert from "node:assert/strict";
import { test } from "node:test";
import * as direct from "../src/index.js";

type Api = typeof direct;

test('the package entry point: `import { train, predict, ... } from "nerveseg"` resolves to the typed library API', async () => {
  // By name, as a program that installed nerveseg would import it (package self-reference via "exports").
  const api = (await import("nerveseg" as string)) as Api;
  for (const name of [
    "prepare",
    "train",
    "predict",
    "tuneModel",
    "submit",
    "runDemo",
    "loadModel",
    "postprocess",
    "evaluateFiles",
    "exportOnnx",
    "synthesize",
  ] as const)
    assert.equal(typeof api[name], "function", name);
  assert.equal(api.postprocess, direct.postprocess);
  // One call through the public API: the mask rule on a tiny map at its own size.
  const mask = api.postprocess(
    { data: Float32Array.from([0.9, 0.5, 0.2, 0.7]), width: 2, height: 2 },
    1,
    api.DEFAULT_POSTPROCESS,
    {
      width: 2,
      height: 2,
    },
  );
  assert.deepEqual([...mask], [1, 0, 0, 1]);
});
