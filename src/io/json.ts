import fs from "node:fs";
import type { z } from "zod";
import { fileError } from "../core/errors.js";
import { readRegularFileSync, TEXT_FILE_LIMIT } from "./read-file.js";

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

/** Reads a JSON file: missing, unparsable or non-regular files are UserErrors that name the file. */
export function readJson(file: string, missingHint = ""): unknown {
  if (!fs.existsSync(file)) throw fileError(file, `not found${missingHint ? ` (${missingHint})` : ""}`);
  const text = readRegularFileSync(file, { ...TEXT_FILE_LIMIT, what: "a JSON file" }).toString("utf8");
  try {
    return JSON.parse(text);
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
