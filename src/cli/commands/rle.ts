import type { Command } from "commander";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH, rleDecodeCsv, rleEncodeFiles, UserError } from "../../index.js";
import { intOption } from "../options.js";

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
