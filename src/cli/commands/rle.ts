import type { Command } from "commander";
import { fileError, UserError } from "../../core/errors.js";
import { StagedFolder } from "../../io/atomic.js";
import { csvLine } from "../../io/csv.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../../io/image.js";
import { decodeRle, encodeRle } from "../../io/rle.js";
import { encodeTiff, readTiff } from "../../io/tiff.js";
import { loadMaskCsv, maskIdFromFile } from "../../metric/evaluate.js";
import { intOption } from "../options.js";

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

export function register(program: Command): void {
  const rle = program.command("rle").description("convert masks between TIFF and Kaggle run-length encoding");

  rle
    .command("encode")
    .description("print `name,pixels` (Kaggle RLE) for each mask TIFF; name drops .tif and _mask")
    .argument("<mask.tif...>", "mask files (nonzero = nerve)")
    .option("--header", 'print an "img,pixels" header line first')
    .option("--width <px>", "mask width", intOption("--width", 1, 100_000), KAGGLE_WIDTH)
    .option("--height <px>", "mask height", intOption("--height", 1, 100_000), KAGGLE_HEIGHT)
    .addHelpText(
      "after",
      "\nExample:\n  nerveseg rle encode input/train/1_1_mask.tif input/train/1_2_mask.tif",
    )
    .action((files: string[], o: { header?: boolean; width: number; height: number }) => {
      rleEncodeFiles(files, Boolean(o.header), (line) => process.stdout.write(line), o);
    });

  rle
    .command("decode")
    .description("write one <id>_mask.tif (LZW, 0/255) per row of a subject,img,pixels or img,pixels CSV")
    .requiredOption("--csv <file>", "train_masks.csv or a submission-style CSV")
    .requiredOption("--out <dir>", "output folder")
    .option("--width <px>", "image width", intOption("--width", 1, 100_000), KAGGLE_WIDTH)
    .option("--height <px>", "image height", intOption("--height", 1, 100_000), KAGGLE_HEIGHT)
    .addHelpText("after", "\nExample:\n  nerveseg rle decode --csv input/train_masks.csv --out work/masks")
    .action((o: { csv: string; out: string; width: number; height: number }) => {
      if (o.width * o.height > 100_000_000) throw new UserError("--width x --height is over 100M pixels");
      const n = rleDecodeCsv(o.csv, o.out, o.width, o.height);
      console.log(`wrote ${n} masks to ${o.out}`);
    });
}
