import type { Command } from "commander";
import { DEFAULT_POSTPROCESS, readPostprocessFile, startViewer } from "../../index.js";
import { intOption } from "../options.js";
import { addDecodeLimitOptions } from "../limits.js";
import { progressFactory, type Progress } from "../progress.js";

interface ViewOptions {
  images: string;
  preds?: string;
  truth?: string;
  params?: string;
  port: number;
  host: string;
  quiet?: boolean;
}

export function register(program: Command): void {
  addDecodeLimitOptions(program.command("view"))
    .description(
      "browse frames with truth/prediction overlays, presence, per-image Dice and heat-maps in a local web page " +
        "(sort, filter to false positives/negatives or frames with a target, keyboard navigation; the view is in the URL)",
    )
    .requiredOption("--images <dir>", "folder of .tif frames (*_mask.tif files are not listed)")
    .option("--preds <dir>", "prediction folder from `nerveseg predict` (predictions.json + probs.npy)")
    .option(
      "--truth <csv|dir>",
      "true masks: subject,img,pixels or img,pixels CSV, or a folder of *_mask.tif",
    )
    .option("--params <json>", "post-processing settings (a JSON file: the params or {postprocess: ...})")
    .option("--port <n>", "port (0 = any free one)", intOption("--port", 0, 65535), 8080)
    .option(
      "--host <addr>",
      "address to listen on (loopback by default: the page serves your data)",
      "127.0.0.1",
    )
    .option("--quiet", "no progress bar")
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  nerveseg view --images input/train --preds work/val-preds --truth input/train_masks.csv\n" +
        "  nerveseg view --images input/test --preds preds/ --port 0",
    )
    .action(async (o: ViewOptions) => {
      const params = o.params ? readPostprocessFile(o.params) : DEFAULT_POSTPROCESS;
      let bar: Progress | null = null;
      const viewer = await startViewer({
        images: o.images,
        preds: o.preds,
        truth: o.truth,
        params,
        host: o.host,
        port: o.port,
        onProgress: (done, total) => {
          bar ??= progressFactory(o.quiet)("scoring", total);
          bar.update(done);
        },
      });
      (bar as Progress | null)?.stop();
      const { index } = viewer;
      const dice = index.meanDice === null ? "" : `, mean Dice ${index.meanDice.toFixed(4)}`;
      console.log(`${index.images.length} frames${dice}`);
      if (!["127.0.0.1", "localhost", "::1"].includes(o.host)) {
        console.warn(
          `warning: listening on ${o.host}: anyone who can reach this address can see these images`,
        );
      }
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
