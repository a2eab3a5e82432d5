import type { Command } from "commander";
import {
  DEFAULT_POSTPROCESS,
  isLoopback,
  LAYOUTS,
  readPostprocessFile,
  startViewer,
  type LayoutKind,
} from "../../index.js";
import { choiceOption, intOption, repeatable } from "../options.js";
import { addDecodeLimitOptions } from "../limits.js";
import { progressFactory, type Progress } from "../progress.js";

interface ViewOptions {
  images?: string;
  data?: string;
  layout: LayoutKind | "auto";
  imagesDir?: string;
  masksDir?: string;
  maskLabel?: number;
  preds?: string;
  truth?: string;
  params?: string;
  port: number;
  host: string;
  allowRemote?: boolean;
  allowHost?: string[];
  quiet?: boolean;
}

export function register(program: Command): void {
  addDecodeLimitOptions(program.command("view"))
    .description(
      "browse images with truth/prediction overlays, presence, per-image Dice and heat-maps in a local web page " +
        "(any format and size; sort, filter to false positives/negatives or frames with a target, keyboard navigation; the view is in the URL)",
    )
    .option(
      "--images <dir>",
      "folder of images in any format (PNG, JPEG, TIFF, BMP, GIF, DICOM; searched below; X_mask.* files are not listed)",
    )
    .option(
      "--data <dir|csv>",
      "instead of --images: a data set in any layout `prepare` reads, its masks as the truth",
    )
    .option(
      "--layout <kind>",
      `--data: auto, or one of ${LAYOUTS.join(", ")}`,
      choiceOption("--layout", ["auto", ...LAYOUTS]),
      "auto",
    )
    .option("--images-dir <dir>", "--data, folders layout: the image folder (default: detected)")
    .option("--masks-dir <dir>", "--data, folders layout: the mask folder (default: detected)")
    .option(
      "--mask-label <n>",
      "true masks are label maps: foreground is this value (or palette index)",
      intOption("--mask-label", 0, 65535),
    )
    .option(
      "--preds <path>",
      "predictions: `nerveseg predict` output (predictions.csv + masks/, or predictions.json + probs.npy), " +
        "a folder of mask images, or a predictions CSV (id,width,height,pixels; or img,pixels)",
    )
    .option(
      "--truth <csv|dir>",
      "with --images: true masks as a subject,img,pixels or img,pixels CSV, or a folder of masks (X_mask.* or X.*)",
    )
    .option(
      "--params <json>",
      "post-processing of probabilities (a JSON file: the params or {postprocess: ...})",
    )
    .option("--port <n>", "port (0 = any free one)", intOption("--port", 0, 65535), 8080)
    .option(
      "--host <addr>",
      'address to listen on (loopback by default: the page serves your data); another address, or "" for every interface, needs --allow-remote',
      "127.0.0.1",
    )
    .option("--allow-remote", "listen on a --host that others can reach (prints a warning)")
    .option(
      "--allow-host <name>",
      "a host name requests may use besides the bound address (repeatable; e.g. the machine's name on your network)",
      repeatable,
    )
    .option("--quiet", "no progress bar")
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  nerveseg view --images input/train --preds work/val-preds --truth input/train_masks.csv\n" +
        "  nerveseg view --images input/test --preds preds/ --port 0\n" +
        "  nerveseg view --data ../shared/data/ddti-thyroid --preds work/ddti-pred     # PNG + GIF masks, predict's output\n" +
        '  nerveseg view --images "scans/patient a" --truth scans/masks --preds out/predictions.csv   # DICOM, masks by name',
    )
    .action(async (o: ViewOptions) => {
      const params = o.params ? readPostprocessFile(o.params) : DEFAULT_POSTPROCESS;
      let bar: Progress | null = null;
      const viewer = await startViewer({
        images: o.images,
        data: o.data,
        layout: { layout: o.layout, imagesDir: o.imagesDir, masksDir: o.masksDir },
        maskLabel: o.maskLabel,
        preds: o.preds,
        truth: o.truth,
        params,
        host: o.host,
        allowRemote: Boolean(o.allowRemote),
        allowedHosts: o.allowHost,
        port: o.port,
        onProgress: (done, total) => {
          bar ??= progressFactory(o.quiet)("scoring", total);
          bar.update(done);
        },
      });
      (bar as Progress | null)?.stop();
      const { index } = viewer;
      for (const note of index.notes) console.warn(`note: ${note}`);
      const dice = index.meanDice === null ? "" : `, mean Dice ${index.meanDice.toFixed(4)}`;
      console.log(`${index.images.length} frames${dice}`);
      if (o.allowRemote && !isLoopback(o.host))
        console.warn(
          `warning: listening on ${o.host || "every interface"}: anyone who can reach this address can see these images`,
        );
      console.log(`viewer at ${viewer.url}  (Ctrl-C to stop)`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          void viewer.close().then(resolve);
        };
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
    });
}
