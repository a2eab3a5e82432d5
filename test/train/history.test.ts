import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { UserError } from "../../src/core/errors.js";
import { type HistoryRow, TrainingHistory, historyCsv, parseHistoryCsv } from "../../src/train/history.js";
import { tempDir } from "../helpers/sample.js";

const row = (epoch: number, loss: number, extra: Partial<HistoryRow> = {}): HistoryRow => ({
  epoch,
  loss,
  val_loss: loss * 1.1,
  dice: 1 - loss,
  val_dice: 0.9 - loss,
  val_score: 0.5 + epoch / 100,
  lr: 0.001,
  img_per_s: 123.5,
  ...extra,
});

test("writes the documented columns, exact doubles, NaN as an empty cell", () => {
  const text = historyCsv([row(1, 0.1 + 0.2, { val_loss: NaN })]);
  assert.equal(
    text,
    "epoch,loss,val_loss,dice,val_dice,val_score,lr,img_per_s\n" +
      "1,0.30000000000000004,,0.7,0.6,0.51,0.001,123.5\n",
  );
  const back = parseHistoryCsv(text);
  assert.equal(back[0].loss, 0.1 + 0.2);
  assert.ok(Number.isNaN(back[0].val_loss));
});

test("rewrites the whole file each epoch and reloads it for resume", () => {
  const dir = tempDir();
  const file = path.join(dir, "run", "history.csv");
  const h = new TrainingHistory(file);
  for (let e = 1; e <= 5; e++) h.append(row(e, 1 / e));
  assert.deepEqual(fs.readdirSync(path.dirname(file)), ["history.csv"], "no temp files left");
  assert.deepEqual(TrainingHistory.load(file).rows, h.rows);

  // Resume from the epoch-3 checkpoint: later rows are dropped, then epoch 4 is written again.
  const resumed = TrainingHistory.load(file, 3);
  assert.deepEqual(
    resumed.rows.map((r) => r.epoch),
    [1, 2, 3],
  );
  resumed.append(row(4, 0.2));
  assert.deepEqual(
    parseHistoryCsv(fs.readFileSync(file, "utf8")).map((r) => [r.epoch, r.loss]),
    [
      [1, 1],
      [2, 0.5],
      [3, 1 / 3],
      [4, 0.2],
    ],
  );
  // Replaying an epoch already recorded replaces it and everything after it.
  resumed.append(row(2, 0.45));
  assert.deepEqual(
    resumed.rows.map((r) => [r.epoch, r.loss]),
    [
      [1, 1],
      [2, 0.45],
    ],
  );
  assert.deepEqual(TrainingHistory.load(path.join(dir, "none.csv")).rows, []);
});

test("reads columns by name and rejects a broken file clearly", () => {
  const reordered = "lr,epoch,img_per_s,loss,val_loss,dice,val_dice,val_score,extra\n0.5,7,10,1,2,3,4,5,x\n";
  assert.deepEqual(parseHistoryCsv(reordered), [
    { epoch: 7, loss: 1, val_loss: 2, dice: 3, val_dice: 4, val_score: 5, lr: 0.5, img_per_s: 10 },
  ]);
  assert.throws(
    () => parseHistoryCsv("epoch,loss\n1,2\n", "h.csv"),
    (e: unknown) => {
      return e instanceof UserError && /^h\.csv: history header lacks column\(s\) val_loss/.test(e.message);
    },
  );
  const bad = historyCsv([row(1, 0.5)]).replace("0.5,", "abc,");
  assert.throws(() => parseHistoryCsv(bad, "h.csv"), /h\.csv: line 2: loss is not a number: "abc"/);
  assert.throws(() => parseHistoryCsv("", "h.csv"), /empty history/);
});
