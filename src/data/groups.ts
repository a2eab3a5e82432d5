/*
 * Labels and groups of a data set's frames, decided once per data set from the names the layout found.
 *
 * A subfolder below the image root is either a class ("benign", "malignant", "normal": a label) or a
 * patient or case ("p07", "case 12": a group); public sets use both. They are told apart by how they look.
 * The subfolders are labels when all of these hold:
 *   - there are at most LABEL_MAX_FOLDERS (10) of them: classes are few, patients many;
 *   - each holds at least LABEL_MIN_IMAGES (20) images: a class holds many frames, a patient's sweep may not;
 *   - no folder name carries a digit: patients and cases are numbered ("p07", "case 12", "001"), classes
 *     are words;
 *   - the file names do not name exactly one patient per folder (`p/12_1.png`, `p/12_2.png`): then the folder
 *     is that patient.
 * A folder every image shares ("train/", the set's own folder) says nothing and is dropped first. A label is
 * stored with the frame and stratifies the split; it is never the group unless --group-by folder says so.
 *
 * Groups (--group-by auto): the --group-pattern capture on the id; else what the layout gave (the Kaggle
 * subject, a CSV group column); else a subfolder that is not a label; else the digits before the first `_`
 * of the name (`12_3` → 12); else every frame alone, with a warning (frames of one patient may then sit on
 * both sides of the split). --group-by folder | name | none picks one of these outright.
 */
import path from "node:path";
import { fileError, UserError } from "../core/errors.js";
import { compareIds } from "../io/ids.js";

export const GROUP_BY = ["auto", "folder", "name", "none"] as const;
export type GroupBy = (typeof GROUP_BY)[number];

export const LABEL_MAX_FOLDERS = 10;
export const LABEL_MIN_IMAGES = 20;

/** What assignGroups reads and sets on each frame (a LayoutEntry). */
export interface GroupedEntry {
  id: string;
  image: string;
  /** The subfolder below the image root, or null; a folder every frame shares is set to null here. */
  folder: string | null;
  group: string;
  label: string | null;
}

export interface GroupOptions {
  groupBy?: GroupBy;
  /** A regular expression whose first capture group is the group of an image (matched on its id). */
  groupPattern?: string;
  /** The groups the layout itself gave (Kaggle subject, CSV column), described; kept under auto. */
  given?: string;
  /** How a name's leading digits are described ("Kaggle subject (<subject>_<n>)" for Kaggle). */
  nameRule?: string;
}

const LEAD = /^(\d+)_/;

/** Sets each entry's folder, label and group; returns the rule in words and what the user should know. */
export function assignGroups(
  entries: GroupedEntry[],
  opts: GroupOptions = {},
): { groupRule: string; warnings: string[] } {
  const by = opts.groupBy ?? "auto";
  const pattern = opts.groupPattern === undefined ? null : compilePattern(opts.groupPattern);
  if (pattern && (by === "folder" || by === "none"))
    throw new UserError(`--group-pattern takes the group from the name; it cannot go with --group-by ${by}`);
  dropSharedFolder(entries);
  const patientOf = (e: GroupedEntry): string | null => {
    const m = (pattern ?? LEAD).exec(pattern ? e.id : path.basename(e.id));
    return m && m[1] !== undefined ? m[1] : null;
  };
  const namesCarryPatient = entries.length > 0 && entries.every((e) => patientOf(e) !== null);
  const labels = foldersAreLabels(entries, namesCarryPatient ? patientOf : null);
  for (const e of entries) e.label = labels ? e.folder : null;
  const hasFolders = entries.length > 0 && entries.every((e) => e.folder !== null);

  const mode =
    by !== "auto"
      ? by
      : pattern
        ? "name"
        : opts.given !== undefined
          ? "given"
          : hasFolders && !labels
            ? "folder"
            : namesCarryPatient
              ? "name"
              : "none";
  const warnings: string[] = [];
  let groupRule: string;
  if (mode === "given") groupRule = opts.given!;
  else if (mode === "folder") {
    for (const e of entries) {
      if (e.folder === null) throw fileError(e.image, "--group-by folder: this image is in no subfolder");
      e.group = e.folder;
    }
    groupRule = by === "folder" ? "subfolder (--group-by folder)" : "subfolder";
  } else if (mode === "name") {
    for (const e of entries) {
      const g = patientOf(e);
      if (g === null)
        throw fileError(
          e.image,
          pattern
            ? `--group-pattern ${opts.groupPattern} does not match its id "${e.id}" with a capture group`
            : `--group-by name: its name "${path.basename(e.id)}" carries no patient part (want <group>_...); give --group-pattern REGEX`,
        );
      e.group = g;
    }
    groupRule = pattern
      ? `--group-pattern ${opts.groupPattern}`
      : (opts.nameRule ?? "leading digits of the name (<group>_...)");
  } else {
    for (const e of entries) e.group = e.id;
    groupRule =
      by === "none"
        ? "none (--group-by none): every image is its own group"
        : "none in the names: every image is its own group";
    if (by === "auto")
      warnings.push(
        "no patient in the names: frames of one patient may sit on both sides of the split (name the patient part with --group-pattern REGEX)",
      );
  }
  if (labels && groupsAreLabels(entries)) {
    const names = [...new Set(entries.map((e) => e.label!))].sort(compareIds);
    warnings.push(
      `the groups are the labels (${names.join(", ")}): a group split puts whole classes on one side; group with --group-by name or none`,
    );
  }
  return { groupRule, warnings };
}

function compilePattern(pattern: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch (e) {
    throw new UserError(`--group-pattern: not a regular expression (${(e as Error).message})`);
  }
}

/** A folder every frame shares (`train/`, the set's own folder) tells frames nothing apart: drop it. */
function dropSharedFolder(entries: GroupedEntry[]): void {
  if (entries.length === 0 || entries.some((e) => e.folder === null)) return;
  let shared = entries[0].folder!.split(path.sep);
  for (const e of entries) {
    const parts = e.folder!.split(path.sep);
    let k = 0;
    while (k < shared.length && k < parts.length && shared[k] === parts[k]) k++;
    shared = shared.slice(0, k);
  }
  if (shared.length === 0) return;
  for (const e of entries) {
    const rest = e.folder!.split(path.sep).slice(shared.length);
    e.folder = rest.length === 0 ? null : rest.join(path.sep);
  }
}

/** The heuristic of the header: are the subfolders classes rather than patients? */
function foldersAreLabels(
  entries: GroupedEntry[],
  patientOf: ((e: GroupedEntry) => string | null) | null,
): boolean {
  if (entries.length === 0 || entries.some((e) => e.folder === null)) return false;
  const byFolder = new Map<string, GroupedEntry[]>();
  for (const e of entries) {
    const list = byFolder.get(e.folder!);
    if (list) list.push(e);
    else byFolder.set(e.folder!, [e]);
  }
  if (byFolder.size > LABEL_MAX_FOLDERS) return false;
  for (const [folder, list] of byFolder) {
    if (list.length < LABEL_MIN_IMAGES || /\d/.test(folder)) return false;
  }
  if (patientOf) {
    const onePatientEach = [...byFolder.values()].every((list) => new Set(list.map(patientOf)).size === 1);
    if (onePatientEach) return false;
  }
  return true;
}

/** Whether groups and labels split the frames the same way (one group per label and one label per group). */
function groupsAreLabels(entries: GroupedEntry[]): boolean {
  const labelOfGroup = new Map<string, string | null>();
  const groupOfLabel = new Map<string | null, string>();
  for (const e of entries) {
    if ((labelOfGroup.get(e.group) ?? e.label) !== e.label) return false;
    if ((groupOfLabel.get(e.label) ?? e.group) !== e.group) return false;
    labelOfGroup.set(e.group, e.label);
    groupOfLabel.set(e.label, e.group);
  }
  return true;
}
