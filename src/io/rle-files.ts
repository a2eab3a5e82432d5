// Kaggle RLE to and from mask files: `nerveseg rle encode` (mask TIFFs → CSV lines) and `rle decode` (a CSV →
// one LZW mask TIFF per row, staged so that a bad row or an interruption leaves the folder as it was).
import { fileError } from "../core/errors.js";
import { StagedFolder } from "./atomic.js";
import { csvLine } from "./csv.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "./image.js";
import { loadMaskCsv, maskIdFromFile } from "./mask-set.js";
import { decodeRle, encodeRle } from "./rle.js";
import { encodeTiff, readTiff } from "./tiff.js";

/**
 * Prints `name,pixels` for each mask TIFF (name without .tif and _mask; quoted when it holds a comma).
 * Every mask must have the given size: Kaggle RLE numbers pixels by it, so a mask of another size would
 * print runs that no reader can place.
 */
export function rleEncodeFiles(
  files: string[],
  header: boolean,
  write: (line: string) => void,
  size: { width: number; height: number } = { width: KAGGLE_WIDTH, height: KAGGLE_HEIGHT },
): void {
  const lines = files.map((f) => {
    const img = readTiff(f);
    if (img.width !== size.width || img.height !== size.height)
      throw fileError(
        f,
        `mask is ${img.width}x${img.height}, expected ${size.width}x${size.height} (give --width/--height for other sizes)`,
      );
    return csvLine([maskIdFromFile(f), encodeRle(img.data, img.width, img.height)]);
  });
  if (header) write("img,pixels\n");
  for (const line of lines) write(line);
}

/** Writes one LZW `<id>_mask.tif` per CSV row; returns the number written. */
export function rleDecodeCsv(csv: string, outDir: string, width: number, height: number): number {
  // loadMaskCsv validates every row (ids, RLE) before anything is written; the files are staged, so an
  // error or interruption half-way leaves the output folder as it was.
  const set = loadMaskCsv(csv, width, height);
  const stage = new StagedFolder(outDir);
  try {
    for (const [id, rle] of set.masks) {
      const data = decodeRle(rle, width, height, set.where.get(id));
      stage.write(`${id}_mask.tif`, encodeTiff({ width, height, data }, { compression: "lzw" }));
    }
    stage.commit();
  } finally {
    stage.abort();
  }
  return set.masks.size;
}
