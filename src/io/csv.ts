/**
 * Minimal CSV for the Kaggle mask files: comma-separated, no commas inside fields (RLE uses spaces),
 * optional surrounding quotes, CRLF or LF, optional UTF-8 BOM. Blank lines are skipped.
 */
import fs from "node:fs";
import { fileError } from "../core/errors.js";

export interface CsvRow {
  /** 1-based line number in the file (the header is line 1). */
  line: number;
  fields: string[];
}

export interface CsvTable {
  file: string;
  header: string[];
  rows: CsvRow[];
}

function unquote(field: string): string {
  const f = field.trim();
  return f.length >= 2 && f.startsWith('"') && f.endsWith('"') ? f.slice(1, -1) : f;
}

/** Parses CSV text; every row must have as many fields as the header. */
export function parseCsv(text: string, file: string): CsvTable {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  let i = 0;
  while (i < lines.length && lines[i]!.trim() === "") i++;
  if (i === lines.length) throw fileError(file, "empty CSV (no header)");
  const header = lines[i]!.split(",").map(unquote);
  const rows: CsvRow[] = [];
  for (i++; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === "") continue;
    const fields = raw.split(",").map(unquote);
    if (fields.length !== header.length) {
      throw fileError(
        file,
        `line ${i + 1}: ${fields.length} fields, expected ${header.length} (${header.join(",")})`,
      );
    }
    rows.push({ line: i + 1, fields });
  }
  return { file, header, rows };
}

/** Reads and parses a CSV file. */
export function readCsv(file: string): CsvTable {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw fileError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return parseCsv(text, file);
}

/** One CSV line from plain fields (the caller guarantees no commas, quotes or newlines in them). */
export function csvLine(fields: ReadonlyArray<string | number>): string {
  return fields.join(",") + "\n";
}
