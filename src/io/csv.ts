/**
 * CSV as RFC 4180 writes it (hand-written: the files are small and a dependency would add nothing):
 * comma-separated, fields optionally in double quotes (inside which commas are data and "" is a quote),
 * CRLF or LF, optional UTF-8 BOM, blank lines skipped. Quoted fields may not span lines. Written lines
 * quote exactly the fields that need it, so a file name holding a comma survives the round trip.
 *
 * Spreadsheet formulas (CSV injection, as OWASP describes it): a text cell that a spreadsheet would run —
 * starting with =, +, -, @, a tab or a carriage return — is written quoted with a leading apostrophe, which
 * spreadsheets show as text; a cell that itself starts with an apostrophe gets one more. Reading strips
 * exactly one apostrophe from a quoted field that starts with one, so our files round-trip.
 */
import { fileError } from "../core/errors.js";
import { readRegularFileSync, TEXT_FILE_LIMIT } from "./read-file.js";

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

/** Splits one line into fields; null when a quote is left open. Unquoted fields are trimmed. */
function splitLine(line: string): string[] | null {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    while (line[i] === " " || line[i] === "\t") i++;
    if (line[i] === '"') {
      let value = "";
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return null;
        value += line.slice(i, q);
        if (line[q + 1] === '"') {
          value += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      while (line[i] === " " || line[i] === "\t") i++;
      fields.push(value.startsWith("'") ? value.slice(1) : value);
      if (i >= line.length) return fields;
      if (line[i] !== ",") return null;
      i++;
    } else {
      const comma = line.indexOf(",", i);
      const end = comma < 0 ? line.length : comma;
      fields.push(line.slice(i, end).trim());
      if (comma < 0) return fields;
      i = comma + 1;
    }
  }
}

/** Parses CSV text; every row must have as many fields as the header. */
export function parseCsv(text: string, file: string): CsvTable {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  let i = 0;
  while (i < lines.length && lines[i]!.trim() === "") i++;
  if (i === lines.length) throw fileError(file, "empty CSV (no header)");
  const split = (k: number): string[] => {
    const fields = splitLine(lines[k]!);
    if (fields === null) throw fileError(file, `line ${k + 1}: a quoted field is not closed`);
    return fields;
  };
  const header = split(i);
  const rows: CsvRow[] = [];
  for (i++; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === "") continue;
    const fields = split(i);
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

/** Reads and parses a CSV file (a regular file, of at most MAX_TEXT_FILE_BYTES). */
export function readCsv(file: string): CsvTable {
  return parseCsv(
    readRegularFileSync(file, { ...TEXT_FILE_LIMIT, what: "a CSV file" }).toString("utf8"),
    file,
  );
}

/** One CSV line; a field holding a comma, a quote or surrounding spaces is quoted ("" for a quote). */
export function csvLine(fields: ReadonlyArray<string | number>): string {
  return fields.map(csvField).join(",") + "\n";
}

function csvField(v: string | number): string {
  if (typeof v === "number") return String(v); // numbers (negative ones too) are data, not formulas
  if (/[\r\n]/.test(v))
    throw new Error(`csv: a field may not hold a line break: ${JSON.stringify(v.slice(0, 40))}`);
  if (/^[=+\-@\t\r']/.test(v)) return `"'${v.replace(/"/g, '""')}"`;
  return /[",]|^\s|\s$/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}
