import fs from "node:fs";
import { z } from "zod";
import { fileError } from "../core/errors.js";
import { readRegularFileSync, TEXT_FILE_LIMIT } from "./read-file.js";
import { nearest } from "../core/text.js";

/** The first schema problem as `path: message`, for one-line errors. */
export function schemaProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  return `${issue.path.join(".") || "(root)"}: ${issue.message}`;
}

/** The object schema inside optional/default/nullable wrappers, or null when it is not an object. */
function objectSchema(t: z.ZodType): z.ZodObject | null {
  let s = t as z.ZodType & { _zod: { def: { innerType?: z.ZodType } } };
  while (s._zod.def.innerType) s = s._zod.def.innerType as typeof s;
  return s instanceof z.ZodObject ? s : null;
}

/**
 * Keys of `raw` that `schema` does not know, at any depth, each with the nearest known key: a typo such as
 * `fliters` is an error, not a silently ignored key that trains the default.
 */
export function unknownKeys(schema: z.ZodType, raw: unknown, at = ""): string[] {
  const obj = objectSchema(schema);
  if (obj === null || raw === null || typeof raw !== "object" || Array.isArray(raw)) return [];
  const shape = obj.shape as Record<string, z.ZodType>;
  const out: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    const where = at ? `${at}.${key}` : key;
    if (key in shape) out.push(...unknownKeys(shape[key], value, where));
    else {
      const near = nearest(key, Object.keys(shape));
      out.push(`${where}: unknown key${near ? ` (did you mean ${at ? `${at}.` : ""}${near}?)` : ""}`);
    }
  }
  return out;
}

/** Parses `raw` with `schema`; a mismatch is a UserError naming `file` (and `what` it should be). */
export function parseWith<S extends z.ZodType>(schema: S, raw: unknown, file: string, what = ""): z.infer<S> {
  const unknown = unknownKeys(schema, raw);
  if (unknown.length > 0) throw fileError(file, `${what}${unknown[0]}`);
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
