// Masks of any format read for pictures and the viewer: one file (nonzero = on, or one value of a label map),
// or the union of an image's masks, each checked to be of its image's size with both files named.
import { fileError } from "../core/errors.js";
import { maskFromDecoded, readImageFile } from "../io/image-read.js";

/** A 0/1 mask at its file's own size. */
export interface OwnMask {
  mask: Uint8Array;
  width: number;
  height: number;
  file: string;
}

/** Reads a single-frame mask file of any format readImageFile reads; `label` picks one value of a label map. */
export async function readMaskFile(file: string, label?: number): Promise<OwnMask> {
  const d = await readImageFile(file, { frames: "refuse-multi" });
  const f = d.frames[0];
  return { mask: maskFromDecoded(d, f, { label }), width: f.image.width, height: f.image.height, file };
}

/** Throws, naming both files, when a mask is not of the size of `other` ("the image x.png"). */
export function checkMaskSize(
  mask: { width: number; height: number },
  maskFile: string,
  other: { width: number; height: number },
  otherName: string,
): void {
  if (mask.width !== other.width || mask.height !== other.height)
    throw fileError(
      maskFile,
      `mask is ${mask.width}x${mask.height} but ${otherName} is ${other.width}x${other.height}`,
    );
}

/** The union of an image's mask files (several masks of one image are merged), all of one size. */
export async function readMaskUnion(files: readonly string[], label?: number): Promise<OwnMask> {
  const first = await readMaskFile(files[0], label);
  for (const file of files.slice(1)) {
    const m = await readMaskFile(file, label);
    checkMaskSize(m, file, first, `the image's other mask ${first.file}`);
    for (let i = 0; i < m.mask.length; i++) first.mask[i] |= m.mask[i];
  }
  return first;
}
