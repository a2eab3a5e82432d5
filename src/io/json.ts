import fs from "node:fs";
import type { z } from "zod";
import { fileError } from "../core/errors.js";

/** The first schema problem as `path: message`, for one-line errors. */
export function schemaProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  return `${issue.path.join(".") || "(root)"}: ${issue.message}`;
}

/** Parses `raw` with `schema`; a mismatch is a UserError naming `file` (and `what` it should be). */
export function parseWith<S extends z.ZodType>(schema: S, raw: unknown, file: string, what = ""): z.infer<S> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw fileError(file, `${what}${schemaProblem(parsed.error)}`);
  return parsed.data;
}

/** Reads a JSON file: missing or unparsable files are UserErrors that name the file. */
export function readJson(file: string, missingHint = ""): unknown {
  if (!fs.existsSync(file)) throw fileError(file, `not found${missingHint ? ` (${missingHint})` : ""}`);
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw fileError(file, `not valid JSON (${(e as Error).message})`);
  }
}

/** readJson + parseWith. */
export function readJsonFile<S extends z.ZodType>(
  file: string,
  schema: S,
  what = "",
  missingHint = "",
  /** Brings an older version of the document up to the schema before it is checked. */
  upgrade: (raw: unknown) => unknown = (raw) => raw,
): z.infer<S> {
  return parseWith(schema, upgrade(readJson(file, missingHint)), file, what);
}
