import assert from "node:assert/strict";
import { UserError } from "../../src/core/errors.js";

/** Asserts a bad input's error: a UserError, one line, naming `file` first, matching `pattern`. */
export async function rejectsNaming(p: Promise<unknown>, file: string, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof UserError, `a UserError, got ${String(e)}`);
    assert.ok(e.message.startsWith(`${file}: `), `names the file first: ${e.message}`);
    assert.ok(!e.message.includes("\n"), `one line: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}
