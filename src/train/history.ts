import fs from "node:fs";
import { fileError } from "../core/errors.js";
import { writeFileAtomic } from "../io/atomic.js";
import type { CurveRow } from "../report/curves.js";
import { readRegularFileSync, TEXT_FILE_LIMIT } from "../io/read-file.js";

/** One epoch's numbers; a metric not measured (no validation split) is NaN and written as an empty cell. */
export interface HistoryRow extends CurveRow {
  img_per_s: number;
}

export const HISTORY_COLUMNS = [
  "epoch",
  "loss",
  "val_loss",
  "dice",
  "val_dice",
  "val_score",
  "lr",
  "img_per_s",
] as const satisfies readonly (keyof HistoryRow)[];

const cell = (v: number): string => (Number.isNaN(v) ? "" : String(v)); // String() round-trips a double exactly

/** The CSV text of the rows (header + one line per epoch). */
export function historyCsv(rows: readonly HistoryRow[]): string {
  const lines = [HISTORY_COLUMNS.join(",")];
  for (const r of rows) lines.push(HISTORY_COLUMNS.map((c) => cell(r[c])).join(","));
  return lines.join("\n") + "\n";
}

/** Parses history.csv text (columns by header name, so added columns or a different order still load). */
export function parseHistoryCsv(text: string, file = "history.csv"): HistoryRow[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length === 0) throw fileError(file, "empty history (no header)");
  const header = lines[0].split(",").map((h) => h.trim());
  const index = HISTORY_COLUMNS.map((c) => header.indexOf(c));
  const missing = HISTORY_COLUMNS.filter((_, i) => index[i] < 0);
  if (missing.length > 0) throw fileError(file, `history header lacks column(s) ${missing.join(", ")}`);
  return lines.slice(1).map((line, k) => {
    const cells = line.split(",");
    const row = {} as HistoryRow;
    HISTORY_COLUMNS.forEach((c, i) => {
      const s = (cells[index[i]] ?? "").trim();
      const v = s === "" ? NaN : Number(s);
      if (s !== "" && Number.isNaN(v)) throw fileError(file, `line ${k + 2}: ${c} is not a number: "${s}"`);
      row[c] = v;
    });
    if (!Number.isInteger(row.epoch)) throw fileError(file, `line ${k + 2}: epoch is not an integer`);
    return row;
  });
}

/**
 * The per-epoch history kept in memory and rewritten whole (atomically) after every epoch, so a kill at any
 * moment leaves either the previous or the new complete file, never a truncated one.
 */
export class TrainingHistory {
  readonly rows: HistoryRow[];

  constructor(
    readonly file: string,
    rows: HistoryRow[] = [],
  ) {
    this.rows = rows;
  }

  /**
   * Loads `file` for a resumed run, keeping only epochs <= `lastEpoch` (the checkpoint's epoch), since
   * the history may have been written for epochs whose checkpoint was lost. A missing file is an empty
   * history.
   */
  static load(file: string, lastEpoch = Infinity): TrainingHistory {
    if (!fs.existsSync(file)) return new TrainingHistory(file);
    const text = readRegularFileSync(file, TEXT_FILE_LIMIT).toString("utf8");
    const rows = parseHistoryCsv(text, file).filter((r) => r.epoch <= lastEpoch);
    return new TrainingHistory(file, rows);
  }

  /** Records an epoch (a replayed epoch replaces its row and drops any later ones) and rewrites the file. */
  append(row: HistoryRow): void {
    const at = this.rows.findIndex((r) => r.epoch === row.epoch);
    if (at >= 0) this.rows.splice(at, this.rows.length - at);
    this.rows.push({ ...row });
    this.save();
  }

  save(): void {
    writeFileAtomic(this.file, historyCsv(this.rows));
  }
}
