import path from "node:path";
import type { Command } from "commander";
import { UserError } from "../../core/errors.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../../io/image.js";
import { decodeRle, encodeRle } from "../../io/rle.js";
import { readTiff, writeTiff } from "../../io/tiff.js";
import { loadMaskCsv, maskIdFromFile } from "../../metric/evaluate.js";
import { intOption } from "../options.js";

/** Prints `name,pixels` for each mask TIFF (name without .tif and _mask). */
export function rleEncodeFiles(files: string[], header: boolean, write: (line: string) => void): void {
  if (header) write("img,pixels\n");
  for (const f of files) {
    const img = readTiff(f);
    write(`${maskIdFromFile(f)},${encodeRle(img.data, img.width, img.height)}\n`);
  }
}

/** Writes one LZW `<id>_mask.tif` per CSV row; returns the number written. */
export function rleDecodeCsv(csv: string, outDir: string, width: number, height: number): number {
  // loadMaskCsv validates every row (ids, RLE) before anything is written.
  const set = loadMaskCsv(csv, width, height);
  for (const [id, rle] of set.masks) {
    const data = decodeRle(rle, width, height, set.where.get(id));
    writeTiff(path.join(outDir, `${id}_mask.tif`), { width, height, data });
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
    .addHelpText(
      "after",
      "\nExample:\n  nerveseg rle encode input/train/1_1_mask.tif input/train/1_2_mask.tif",
    )
    .action((files: string[], o: { header?: boolean }) => {
      rleEncodeFiles(files, Boolean(o.header), (line) => process.stdout.write(line));
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
