import { fileError, UserError } from "../core/errors.js";
import { writeFileAtomic } from "../io/atomic.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../io/image.js";
import { readRegularFileSync, TEXT_FILE_LIMIT } from "../io/read-file.js";

/** Pixels in one Kaggle frame; RLE starts are 1-based, so valid pixels are 1..KAGGLE_PIXELS. */
export const KAGGLE_PIXELS = KAGGLE_WIDTH * KAGGLE_HEIGHT;

export const SUBMISSION_HEADER = "img,pixels";

/** One submission row: the test image id ("1".."5508") and its Kaggle RLE ("" for no nerve). */
export interface SubmissionRow {
  img: string;
  pixels: string;
}

export interface SubmissionSummary {
  rows: number;
  /** Rows with a non-empty mask. */
  nonEmpty: number;
  /** Whether the rows are in ascending numeric id order (Kaggle does not require it; we write it so). */
  sorted: boolean;
}

const ID_RE = /^[1-9][0-9]*$/;
const INT_RE = /^[1-9][0-9]*$/;

/**
 * Why `pixels` is not a well-formed Kaggle RLE, or null when it is: space-separated positive `start length`
 * pairs, each run inside 1..KAGGLE_PIXELS, starts ascending and runs not overlapping. Empty = no nerve.
 */
export function rleProblem(pixels: string, totalPixels = KAGGLE_PIXELS): string | null {
  if (pixels === "") return null;
  const tokens = pixels.split(" ");
  if (tokens.length % 2 !== 0) return `odd number of RLE numbers (${tokens.length})`;
  let prevEnd = 0; // last pixel (1-based) covered by the previous run
  for (let k = 0; k < tokens.length; k += 2) {
    const a = tokens[k];
    const b = tokens[k + 1];
    if (!INT_RE.test(a) || !INT_RE.test(b))
      return `RLE pair ${k / 2 + 1} "${a} ${b}" is not two positive integers`;
    const start = Number(a);
    const len = Number(b);
    if (start <= prevEnd) {
      return `RLE run ${k / 2 + 1} starts at ${start}, overlapping or before the previous run (ends at ${prevEnd})`;
    }
    const end = start + len - 1;
    if (end > totalPixels) return `RLE run ${k / 2 + 1} (${start} ${len}) runs past pixel ${totalPixels}`;
    prevEnd = end;
  }
  return null;
}

/** Checks that the expected ids are positive integers without repeats; returns them as a Set. */
function expectedSet(expectedIds: readonly string[], what: string): Set<string> {
  const set = new Set<string>();
  for (const id of expectedIds) {
    if (!ID_RE.test(id)) throw new UserError(`${what}: test image id "${id}" is not a positive integer`);
    if (set.has(id)) throw new UserError(`${what}: test image id ${id} appears twice`);
    set.add(id);
  }
  return set;
}

function missingMessage(expected: Set<string>, seen: Set<string>): string | null {
  const missing: string[] = [];
  for (const id of expected) if (!seen.has(id)) missing.push(id);
  if (missing.length === 0) return null;
  missing.sort((a, b) => Number(a) - Number(b));
  const shown = missing.slice(0, 5).join(", ");
  return `${missing.length} expected id(s) missing (${shown}${missing.length > 5 ? ", ..." : ""})`;
}

/**
 * Checks submission text against the Kaggle rules: header `img,pixels`, one `id,rle` line per expected id
 * (each exactly once, nothing else), numeric ids, well-formed RLE (see rleProblem). Throws a UserError naming
 * `name` and the line; returns counts when it is valid. A final newline is fine, blank lines are not.
 */
export function validateSubmissionText(
  text: string,
  expectedIds: readonly string[],
  name = "submission",
): SubmissionSummary {
  const expected = expectedSet(expectedIds, name);
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const strip = (s: string): string => (s.endsWith("\r") ? s.slice(0, -1) : s);
  if (lines.length === 0) throw fileError(name, "empty file (want the header img,pixels)");
  if (strip(lines[0]).replace(/^\uFEFF/, "") !== SUBMISSION_HEADER) {
    throw fileError(name, `line 1: header is "${strip(lines[0]).slice(0, 40)}", want "${SUBMISSION_HEADER}"`);
  }
  const seen = new Set<string>();
  let nonEmpty = 0;
  let sorted = true;
  let prev = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = strip(lines[i]);
    const at = `line ${i + 1}`;
    const comma = line.indexOf(",");
    if (comma < 0) throw fileError(name, `${at}: no comma (want img,pixels)`);
    const id = line.slice(0, comma);
    const pixels = line.slice(comma + 1);
    if (!ID_RE.test(id))
      throw fileError(name, `${at}: image id "${id.slice(0, 20)}" is not a positive integer`);
    if (!expected.has(id)) throw fileError(name, `${at}: image id ${id} is not one of the test images`);
    if (seen.has(id)) throw fileError(name, `${at}: image id ${id} appears twice`);
    seen.add(id);
    const problem = rleProblem(pixels);
    if (problem) throw fileError(name, `${at} (img ${id}): ${problem}`);
    if (pixels !== "") nonEmpty++;
    const n = Number(id);
    if (n < prev) sorted = false;
    prev = n;
  }
  const missing = missingMessage(expected, seen);
  if (missing) throw fileError(name, missing);
  return { rows: seen.size, nonEmpty, sorted };
}

/** validateSubmissionText on a file. */
export function validateSubmission(file: string, expectedIds: readonly string[]): SubmissionSummary {
  const text = readRegularFileSync(file, TEXT_FILE_LIMIT).toString("utf8");
  return validateSubmissionText(text, expectedIds, file);
}

/**
 * Writes `file` as a Kaggle submission: header `img,pixels`, rows sorted numerically by id. Every row is
 * checked as it arrives (known id, not repeated, well-formed RLE) and the whole text is validated against
 * `expectedIds` before it is renamed into place, so on any error (a bad row, a missing id, the row source
 * throwing) no new file appears and an existing `file` is left untouched.
 */
export function writeSubmission(
  file: string,
  rows: Iterable<SubmissionRow>,
  expectedIds: readonly string[],
): SubmissionSummary {
  const expected = expectedSet(expectedIds, file);
  const byId = new Map<number, string>();
  for (const { img, pixels } of rows) {
    if (!expected.has(img))
      throw fileError(file, `row for image "${img}", which is not one of the test images`);
    const n = Number(img);
    if (byId.has(n)) throw fileError(file, `two rows for image ${img}`);
    const problem = rleProblem(pixels);
    if (problem) throw fileError(file, `image ${img}: ${problem}`);
    byId.set(n, pixels);
  }
  const missing = missingMessage(expected, new Set([...byId.keys()].map(String)));
  if (missing) throw fileError(file, missing);
  const ids = [...byId.keys()].sort((a, b) => a - b);
  const parts: string[] = [SUBMISSION_HEADER];
  for (const id of ids) parts.push(`${id},${byId.get(id)}`);
  const text = parts.join("\n") + "\n";
  // Belt and braces: the exact bytes about to be renamed into place pass the reader's checks.
  const summary = validateSubmissionText(text, expectedIds, file);
  writeFileAtomic(file, text);
  return summary;
}
