import assert from "node:assert/strict";
import { test } from "node:test";
import { csvLine, parseCsv } from "../../src/io/csv.js";

test("parseCsv: BOM, CRLF, quotes, blank lines and 1-based line numbers", () => {
  const t = parseCsv('\uFEFFimg,pixels\r\n1,1 2\r\n\r\n"2",""\r\n3,\r\n', "s.csv");
  assert.deepEqual(t.header, ["img", "pixels"]);
  assert.deepEqual(
    t.rows.map((r) => [r.line, ...r.fields]),
    [
      [2, "1", "1 2"],
      [4, "2", ""],
      [5, "3", ""],
    ],
  );
});

test("parseCsv: a row with the wrong number of fields names its line", () => {
  assert.throws(
    () => parseCsv("img,pixels\n1,\n2,1 1,x\n", "s.csv"),
    /^UserError: s\.csv: line 3: 3 fields, expected 2/,
  );
  assert.throws(() => parseCsv("\n\n", "e.csv"), /e\.csv: empty CSV/);
});

test("csvLine joins fields and ends the line", () => {
  assert.equal(csvLine(["a", 1, 0.5]), "a,1,0.5\n");
});

test("csvLine defuses spreadsheet formulas (OWASP CSV injection) and parseCsv reads the cells back as written", () => {
  const cells = ["=1+1", "@SUM(A1)", "+cmd|calc", "-2+3", "\tx", "'quoted", "plain", "a,b", "-"];
  const line = csvLine([...cells, -0.5, 3]);
  assert.equal(line, `"'=1+1","'@SUM(A1)","'+cmd|calc","'-2+3","'\tx","''quoted",plain,"a,b","'-",-0.5,3\n`);
  // No written text cell starts a formula once a spreadsheet unquotes it.
  const back = parseCsv("h" + ",h".repeat(cells.length + 1) + "\n" + line, "t.csv").rows[0].fields;
  assert.deepEqual(back, [...cells, "-0.5", "3"]);
  assert.throws(() => csvLine(["a\nb"]), /line break/);
});
