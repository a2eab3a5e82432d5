import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { frame, rectMask, writeGrey } from "../helpers/images.js";
import { PROJECT_ROOT, tempDir } from "../helpers/sample.js";
import { presetFromFlags } from "../../src/cli/commands/train.js";
import { PRESETS } from "../../src/model/config.js";
import { cli } from "../helpers/cli.js";

test("every command has --help with an example", () => {
  const top = cli("--help");
  assert.equal(top.code, 0);
  const commands = [...top.out.matchAll(/^ {2}(\w[\w-]*)/gm)].map((m) => m[1]).filter((c) => c !== "help");
  assert.ok(commands.includes("prepare"), top.out);
  for (const c of commands) {
    const r = cli(c, "--help");
    assert.equal(r.code, 0, `${c} --help`);
    assert.match(r.out, /Usage: nerveseg/, c);
  }
});

test("help texts tell the truth about precision: each preset's default, as the presets hold it", () => {
  const help = cli("train", "--help").out.replace(/\s+/g, " ");
  assert.match(help, /default: as the preset says \(real: auto; fast, reference: fp32\)/);
  assert.equal(PRESETS.real.train.precision, "auto");
  assert.equal(PRESETS.fast.train.precision ?? "fp32", "fp32");
  assert.equal(PRESETS.reference.train.precision ?? "fp32", "fp32");
  assert.match(
    cli("predict", "--help").out.replace(/\s+/g, " "),
    /fp32 \(the default, whatever precision the model was trained in\)/,
  );
});

test("bad input: one line naming the file, exit 1, no stack unless --verbose", () => {
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, "train"));
  fs.writeFileSync(path.join(dir, "train", "1_1.tif"), "not a tiff");
  fs.writeFileSync(path.join(dir, "train", "1_1_mask.tif"), "not a tiff");
  const r = cli("prepare", "--input", dir, "--out", path.join(dir, "out"));
  assert.equal(r.code, 1);
  // Progress lines may precede it; the error itself is one line and there is no stack.
  const lines = r.err
    .trim()
    .split("\n")
    .filter((l) => !/^prepare: \d+\/\d+/.test(l));
  assert.equal(lines.length, 1, r.err);
  assert.match(lines[0], /^nerveseg: .*1_1\.tif: not a TIFF/);
  assert.equal(fs.existsSync(path.join(dir, "out", "manifest.json")), false);
  const v = cli("prepare", "--input", dir, "--out", path.join(dir, "out"), "--verbose");
  assert.equal(v.code, 1);
  assert.match(v.err, /\n\s+at /, "stack trace with --verbose");
});

test("a bad flag value is a usage error", () => {
  const r = cli("prepare", "--val", "2");
  assert.notEqual(r.code, 0);
  assert.match(r.err, /--val must be a number in \[0, 0\.9\]/);
});

test("usage errors: one line and a pointer to --help, exit 2; a typo is named before a missing option; --version", () => {
  const typo = cli("predict", "--modle", "x");
  assert.equal(typo.code, 2);
  assert.match(
    typo.err,
    /^error: unknown option '--modle' \(Did you mean --model\?\)\n\(add --help for usage\)\n?$/,
  );
  const missing = cli("predict", "a.png");
  assert.equal(missing.code, 2);
  assert.match(missing.err, /required option '--model <dir>' not specified/);
  assert.ok(missing.err.split("\n").filter(Boolean).length <= 2, "no full help");
  const bad = cli("prepare", "--split", "foo");
  assert.equal(bad.code, 2);
  const version = cli("--version");
  assert.equal(version.code, 0);
  assert.match(version.out.trim(), /^\d+\.\d+\.\d+$/);
});

test("CSV errors never echo raw content: control bytes escaped, long lines cut, still one line", () => {
  const dir = tempDir();
  const truth = path.join(dir, "truth.csv");
  fs.writeFileSync(truth, "img,pixels\n1,1 2\n");
  for (const body of [
    `img,pixels\n\u001b[31m1,1 2\n`,
    `img,pixels\n1,${"9 ".repeat(500)}x\n`,
    Buffer.concat([
      Buffer.from("img,pixels\n"),
      Buffer.from([0, 1, 2, 0xff, 0x1b, 0x5b, 0x32, 0x4a]),
      Buffer.from(",1 2\n"),
    ]),
  ]) {
    const pred = path.join(dir, "pred.csv");
    fs.writeFileSync(pred, body);
    const r = cli("evaluate", "--truth", truth, "--pred", pred);
    assert.equal(r.code, 1, r.err);
    const line = r.err.trimEnd();
    assert.equal(line.split("\n").length, 1, line);
    // eslint-disable-next-line no-control-regex
    assert.ok(!/[\u0000-\u001f\u007f]/.test(line), JSON.stringify(line));
    assert.ok(line.length < 500, `${line.length} characters`);
    assert.match(line, /pred\.csv/);
  }
});

test("--quiet means no progress output at all", () => {
  const dir = tempDir();
  const r = cli(
    "synth",
    "--out",
    path.join(dir, "s"),
    "--subjects",
    "1",
    "--frames",
    "4",
    "--test",
    "2",
    "--quiet",
  );
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, "");
  const p = cli("prepare", "--input", path.join(dir, "s"), "--out", path.join(dir, "p"), "--quiet");
  assert.equal(p.code, 0, p.err);
  assert.equal(p.err, "");
});

test("--trim / --no-trim override the preset's model.trim; absent, the preset decides", () => {
  const flags = { data: "d", preset: "fast", out: "o", dedupe: "off" as const, worker: true };
  assert.equal(presetFromFlags(flags).model.trim, PRESETS.fast.model.trim);
  assert.equal(presetFromFlags({ ...flags, trim: true }).model.trim, true);
  assert.equal(presetFromFlags({ ...flags, preset: "real", trim: false }).model.trim, false);
  const help = spawnSync(
    process.execPath,
    [path.join(PROJECT_ROOT, "dist/src/cli/main.js"), "cv", "--help"],
    {
      encoding: "utf8",
    },
  );
  assert.match(help.stdout, /--no-trim/);
});

test("prepare prints the labels with their frames and every warning; --help tells labels from groups", async () => {
  const help = cli("prepare", "--help");
  assert.match(help.out, /--group-by <how>/);
  assert.match(help.out, /subfolders are class labels when there are at most 10 of them/);
  const dir = tempDir();
  const input = path.join(dir, "busi");
  for (const [c, target] of [
    ["benign", true],
    ["normal", false],
  ] as const)
    for (let k = 1; k <= 20; k++) {
      await writeGrey(path.join(input, c, `${c} (${k}).png`), 8, 8, frame(8, 8, k));
      const mask = target ? rectMask(8, 8, 0, 0, 3, 3) : new Uint8Array(64);
      await writeGrey(path.join(input, c, `${c} (${k})_mask.png`), 8, 8, mask);
    }
  for (let k = 1; k <= 2; k++) {
    await writeGrey(path.join(input, "test", `t${k}.png`), 8, 8, frame(8, 8, 50 + k));
    await writeGrey(path.join(input, "test", `t${k}_mask.png`), 8, 8, rectMask(8, 8, 0, 0, 3, 3));
  }
  const r = cli("prepare", "--input", input, "--out", path.join(dir, "p"), "--split", "group", "--quiet");
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^ {2}labels \(class folders; they stratify the split\): benign 20, normal 20$/m);
  assert.match(r.out, /^ {2}groups: 40 by none in the names: every image is its own group$/m);
  assert.match(r.out, /^ {2}warning: no patient in the names: frames of one patient may sit on both sides/m);
  assert.match(
    r.out,
    /^ {2}warning: test\/: 2 images with masks — not used for training; evaluate on it with `nerveseg evaluate`$/m,
  );
  const byFolder = cli(
    "prepare",
    "--input",
    input,
    "--out",
    path.join(dir, "q"),
    "--group-by",
    "folder",
    "--quiet",
  );
  assert.equal(byFolder.code, 0, byFolder.err);
  assert.match(byFolder.out, /^ {2}warning: the groups are the labels \(benign, normal\)/m);
  const bad = cli("prepare", "--input", input, "--out", path.join(dir, "r"), "--group-by", "patient");
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--group-by must be one of auto, folder, name, none/);
});
