/*
 * The image files named on a command line (`nerveseg predict a.png scans/ "b/*.dcm"`): files, folders and
 * glob patterns, with ids for the outputs.
 */
import fs from "node:fs";
import path from "node:path";
import { fileError } from "../core/errors.js";
import { checkRegularFile } from "../io/read-file.js";
import { DEFAULT_MASK_SUFFIXES, listTree, maskBase, stemOf } from "./names.js";

/**
 * The image files named on a command line: files as given, folders searched below (mask files, by the
 * suffix list, left out), and glob patterns (`*`, `?`, `[...]`, `**`) when the shell did not expand them.
 * Ids: a file's name without extension; below a folder, its path from that folder. Two inputs with the
 * same id are an error naming both.
 */
export function listImageInputs(
  args: readonly string[],
  suffixes: readonly string[] = DEFAULT_MASK_SUFFIXES,
): { files: { id: string; file: string }[]; maskFilesLeftOut: number } {
  const files: { id: string; file: string }[] = [];
  let maskFilesLeftOut = 0;
  for (const arg of args) {
    if (fs.existsSync(arg)) {
      if (fs.statSync(arg).isDirectory()) {
        const found = listTree(arg);
        for (const rel of found) {
          if (maskBase(stemOf(path.basename(rel)), suffixes) !== null) maskFilesLeftOut++;
          else files.push({ id: stemOf(rel), file: path.join(arg, rel) });
        }
        if (found.length === 0) throw fileError(arg, "no image files in this folder");
      } else {
        // /dev/zero or a FIFO named as an image is refused here, before any model is loaded.
        checkRegularFile(arg, { maxBytes: Infinity, reason: "", what: "an image file" });
        files.push({ id: stemOf(path.basename(arg)), file: arg });
      }
      continue;
    }
    if (!/[*?[]/.test(arg)) throw fileError(arg, "not found");
    const base = globBase(arg);
    const matches = fs.existsSync(base)
      ? listTree(base)
          .map((rel) => path.join(base, rel))
          .filter((f) => globRegExp(arg).test(f))
      : [];
    if (matches.length === 0) throw fileError(arg, "the pattern matches no image file");
    for (const f of matches) files.push({ id: stemOf(path.basename(f)), file: f });
  }
  const seen = new Map<string, string>();
  for (const f of files) {
    // Ids become CSV cells and file names of the outputs: a line break in one is refused before any work.
    if (/[\r\n]/.test(f.file))
      throw fileError(JSON.stringify(f.file), "its name holds a line break; rename the file");
    const other = seen.get(f.id);
    if (other !== undefined && other !== f.file)
      throw fileError(
        f.file,
        `has the same id "${f.id}" as ${other}: give them in separate runs or by folder`,
      );
    seen.set(f.id, f.file);
  }
  return { files: files.filter((f, i) => files.findIndex((g) => g.file === f.file) === i), maskFilesLeftOut };
}

/** The folder part of a glob before its first wildcard segment. */
function globBase(pattern: string): string {
  const parts = pattern.split(/[\\/]/);
  const at = parts.findIndex((p) => /[*?[]/.test(p));
  const base = parts.slice(0, at).join(path.sep);
  return base === "" ? (pattern.startsWith(path.sep) ? path.sep : ".") : base;
}

/**
 * A glob as a regular expression: `**` any path, `*` and `?` within one name, `[...]` a class. Written
 * here because node 20's path.matchesGlob is experimental and warns on every use.
 */
export function globRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*" && pattern[i + 1] === "*") {
      re += pattern[i + 2] === "/" ? "(?:.*/)?" : ".*";
      i += pattern[i + 2] === "/" ? 2 : 1;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end < 0) re += "\\[";
      else {
        re += `[${pattern
          .slice(i + 1, end)
          .replace(/^!/, "^")
          .replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}
