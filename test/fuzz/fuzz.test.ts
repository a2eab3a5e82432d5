import assert from "node:assert/strict";
import { test } from "node:test";
import { FORMATS } from "./fixtures.js";
import { runAll, table } from "./run.js";

// A fixed seed: a failure here names a mutant that `node dist/test/fuzz/run.js --seed 26` makes again.
const SEED = 26;
const MUTANTS = 360;
/** Per file: refusals take milliseconds; this leaves room for a machine busy with other tests. */
const MAX_MS = 3_000;
/** Per format's process (node with sharp loaded is about 80 MiB). */
const MAX_RSS_MIB = 300;

test(`fuzz: ${MUTANTS} mutants of every reader's fixtures and the bombs decode or are refused in one line, in bounded time and memory`, async () => {
  const results = await runAll(MUTANTS, SEED, 1, 60_000);
  const report = table(results);
  const failures = results.flatMap((r) =>
    r.failures.map((f) => `${r.format} ${f.name} (${f.how}): ${f.problem}`),
  );
  assert.deepEqual(failures, [], `failures:\n${failures.join("\n")}\n${report}`);
  for (const r of results) {
    assert.ok(r.tried > 0, `${r.format}: nothing tried\n${report}`);
    assert.ok(r.maxMs < MAX_MS, `${r.format}: ${r.slowest} took ${r.maxMs.toFixed(0)} ms\n${report}`);
    assert.ok(r.maxRssMiB < MAX_RSS_MIB, `${r.format}: peak RSS ${r.maxRssMiB} MiB\n${report}`);
  }
  // Each format's fixtures decode and some mutants are refused: the readers were really exercised.
  for (const format of FORMATS) {
    const r = results.find((x) => x.format === format)!;
    assert.ok(r.decoded >= 1 && r.refused >= 10, `${format}: ${r.decoded} decoded, ${r.refused} refused`);
  }
  const bombs = results.find((r) => r.format === "bombs")!;
  assert.equal(bombs.refused, bombs.tried, "every bomb is refused");
});
