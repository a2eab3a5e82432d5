import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { writeFileAtomic } from "../../src/io/atomic.js";
import { decodeNpyHeader, encodeNpyHeader, readNpy } from "../../src/io/npy.js";
import { tempDir } from "../helpers/sample.js";

test("npy header: aligned to 64 bytes, round-trips, reserves room on request", () => {
  for (const shape of [[3], [2, 420, 580], [0, 1, 1]]) {
    const h = encodeNpyHeader("|u1", shape);
    assert.equal(h.length % 64, 0);
    const d = decodeNpyHeader(h, "x.npy");
    assert.deepEqual(d, { dtype: "|u1", shape, dataOffset: h.length });
  }
  assert.equal(encodeNpyHeader("<f4", [5, 5], 128).length, 128);
  assert.equal(
    Buffer.from(encodeNpyHeader("<f4", [4]))
      .toString("latin1")
      .slice(10, 60),
    "{'descr': '<f4', 'fortran_order': False, 'shape': ",
  );
});

test("npy: bad files are named in the error", () => {
  const dir = tempDir();
  const f = path.join(dir, "bad.npy");
  fs.writeFileSync(f, "hello");
  assert.throws(() => readNpy(f), /bad\.npy: not a \.npy file/);
  writeFileAtomic(f, Buffer.concat([encodeNpyHeader("|u1", [10]), Buffer.alloc(3)]));
  assert.throws(() => readNpy(f), /bad\.npy: size 131 bytes, header says 138/);
});

const hasNumpy = (() => {
  try {
    execFileSync("python3", ["-c", "import numpy"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

test(
  "npy files we write are read by numpy",
  { skip: hasNumpy ? false : "python3 with numpy not installed" },
  () => {
    const dir = tempDir();
    const f = path.join(dir, "a.npy");
    const data = Uint8Array.from({ length: 24 }, (_, i) => i * 10);
    writeFileAtomic(f, Buffer.concat([encodeNpyHeader("|u1", [2, 3, 4], 128), data]));
    const out = execFileSync("python3", [
      "-c",
      `import numpy as n; a=n.load("${f}"); print(a.shape, a.dtype, int(a[1,2,3]))`,
    ]);
    assert.equal(out.toString().trim(), "(2, 3, 4) uint8 230");
  },
);
