import path from "node:path";
import { z } from "zod";
import { fileError } from "../core/errors.js";
import { readJsonFile } from "../io/json.js";

/** What `nerveseg prepare` writes beside its arrays; everything later stages need to know about the data. */
export const ManifestSchema = z.object({
  format: z.literal("nerveseg-prepared"),
  version: z.literal(1),
  created: z.string(),
  source: z.string(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  train: z.object({
    images: z.string(),
    masks: z.string(),
    ids: z.array(z.string()),
    subjects: z.array(z.number().int()),
    /** Mask area in pixels; 0 means no nerve. */
    maskArea: z.array(z.number().int().nonnegative()),
    /** Per-image mean and standard deviation of the grey values. */
    mean: z.array(z.number()),
    std: z.array(z.number()),
  }),
  test: z
    .object({
      images: z.string(),
      ids: z.array(z.string()),
      mean: z.array(z.number()),
      std: z.array(z.number()),
    })
    .nullable(),
  stats: z.object({
    /** Mean and std over all training pixels (the normalisation a model stores). */
    trainMean: z.number(),
    trainStd: z.number(),
    withMask: z.number().int(),
    withoutMask: z.number().int(),
  }),
  split: z.object({
    kind: z.enum(["stratified", "subject"]),
    seed: z.number().int(),
    valFraction: z.number(),
    /** Indices into train.ids. */
    val: z.array(z.number().int().nonnegative()),
  }),
  skipped: z.array(z.object({ file: z.string(), reason: z.string() })),
});
export type Manifest = z.infer<typeof ManifestSchema>;

export const MANIFEST_NAME = "manifest.json";

/** Reads and validates a prepared folder's manifest. */
export function readManifest(dir: string): Manifest {
  const file = path.join(dir, MANIFEST_NAME);
  const m = readJsonFile(file, ManifestSchema, "not a nerveseg manifest: ", "run `nerveseg prepare` first");
  const n = m.train.ids.length;
  for (const key of ["subjects", "maskArea", "mean", "std"] as const)
    if (m.train[key].length !== n)
      throw fileError(file, `train.${key} has ${m.train[key].length} entries, ids ${n}`);
  if (m.split.val.some((i) => i >= n)) throw fileError(file, "split.val has an index past the training set");
  return m;
}
