import path from "node:path";
import { z } from "zod";
import { fileError } from "../core/errors.js";
import { readJsonFile } from "../io/json.js";

const Size = z.tuple([z.number().int().positive(), z.number().int().positive()]);

/**
 * What `nerveseg prepare` writes beside its arrays; everything later stages need to know about the data.
 * Version 2 (any layout): frames are stored at one working size (width x height) and each frame's own
 * size, source file and group are kept per frame. Version 1 folders (Kaggle only) are read and upgraded.
 */
export const ManifestSchema = z.object({
  format: z.literal("nerveseg-prepared"),
  version: z.literal(2),
  created: z.string(),
  source: z.string(),
  /** kaggle | folders | side-by-side | csv (see src/data/layout.ts). */
  layout: z.string(),
  /** The working size every frame is stored at. */
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  /** How groups were assigned (subject, subfolder, pattern, CSV column). */
  groupRule: z.string(),
  train: z.object({
    images: z.string(),
    masks: z.string(),
    ids: z.array(z.string()),
    /** Subject / patient / case of each frame: frames of one group stay on one side of a split. */
    groups: z.array(z.string()),
    /**
     * The class of each frame (its subfolder, when the subfolders are classes: src/data/groups.ts), or null.
     * Labels stratify the split. Before they were told apart from groups, any subfolder was stored here.
     */
    labels: z.array(z.string().nullable()),
    /** Source image of each frame (`file#k` for frame k of a multi-frame file). */
    files: z.array(z.string()),
    /** Each frame's own width x height before it was brought to the working size. */
    sizes: z.array(Size),
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
      files: z.array(z.string()),
      sizes: z.array(Size),
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
    /** stratified by mask presence (the reference), or by group ("subject" in version 1). */
    kind: z.enum(["stratified", "group"]),
    seed: z.number().int(),
    valFraction: z.number(),
    /** Indices into train.ids. */
    val: z.array(z.number().int().nonnegative()),
    /** With --folds K: each frame's fold (0..K-1), whole groups per fold, for cross-validation. */
    folds: z.object({ k: z.number().int().min(2), of: z.array(z.number().int().nonnegative()) }).nullable(),
  }),
  skipped: z.array(z.object({ file: z.string(), reason: z.string() })),
  /** One line each that `prepare` printed for the user to read (absent in older folders). */
  warnings: z.array(z.string()).optional(),
  /**
   * The label values the masks hold (label maps: 1 nerve, 2 vessel; plain masks: 255 or 1) with how many
   * frames hold each, ascending; what --mask-label picks from. Empty when none could be counted (colour or
   * lossy masks); absent in older folders.
   */
  maskValues: z
    .array(z.object({ value: z.number().int().nonnegative(), frames: z.number().int().positive() }))
    .optional(),
});
export type Manifest = z.infer<typeof ManifestSchema>;

export const MANIFEST_NAME = "manifest.json";

/** Version 1 (Kaggle layout, 580x420 frames, numeric subjects), upgraded to version 2 on read. */
function upgradeV1(raw: unknown): unknown {
  if (raw === null || typeof raw !== "object" || (raw as { version?: unknown }).version !== 1) return raw;
  const v1 = raw as {
    width: number;
    height: number;
    train: { ids: string[]; subjects?: number[] } & Record<string, unknown>;
    test: ({ ids: string[] } & Record<string, unknown>) | null;
    split: { kind: string } & Record<string, unknown>;
  } & Record<string, unknown>;
  const size = [v1.width, v1.height];
  const { subjects, ...train } = v1.train;
  return {
    ...v1,
    version: 2,
    layout: "kaggle",
    groupRule: "Kaggle subject (<subject>_<n>)",
    train: {
      ...train,
      groups: (subjects ?? []).map(String),
      labels: v1.train.ids.map(() => null),
      files: v1.train.ids.map((id) => `train/${id}.tif`),
      sizes: v1.train.ids.map(() => size),
    },
    test: v1.test && {
      ...v1.test,
      files: v1.test.ids.map((id) => `test/${id}.tif`),
      sizes: v1.test.ids.map(() => size),
    },
    split: { ...v1.split, kind: v1.split.kind === "subject" ? "group" : v1.split.kind, folds: null },
  };
}

/** Reads and validates a prepared folder's manifest (version 1 folders are upgraded in memory). */
export function readManifest(dir: string): Manifest {
  const file = path.join(dir, MANIFEST_NAME);
  const m = readJsonFile(
    file,
    ManifestSchema,
    "not a nerveseg manifest: ",
    "run `nerveseg prepare` first",
    upgradeV1,
  );
  const n = m.train.ids.length;
  for (const key of ["groups", "labels", "files", "sizes", "maskArea", "mean", "std"] as const)
    if (m.train[key].length !== n)
      throw fileError(file, `train.${key} has ${m.train[key].length} entries, ids ${n}`);
  if (m.split.val.some((i) => i >= n)) throw fileError(file, "split.val has an index past the training set");
  if (m.split.folds && (m.split.folds.of.length !== n || m.split.folds.of.some((f) => f >= m.split.folds!.k)))
    throw fileError(
      file,
      `split.folds does not give each of the ${n} frames a fold below ${m.split.folds.k}`,
    );
  return m;
}
