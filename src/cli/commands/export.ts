import type { Command } from "commander";
import { exportOnnx, loadModel, ONNX_OUTPUTS, writeFileAtomic } from "../../index.js";
import { toStderr } from "../progress.js";

export function register(program: Command): void {
  program
    .command("export")
    .description(
      `write a trained model as ONNX (input: raw pixels NHWC at the model's resolution; outputs: ${ONNX_OUTPUTS.mask}, ${ONNX_OUTPUTS.presence}; ` +
        "input size, fit, normalisation and post-processing stored in the model's metadata)",
    )
    .requiredOption("--model <dir>", "model folder written by `nerveseg train`")
    .requiredOption("--onnx <file>", "the .onnx file to write")
    .option(
      "--target-name <name>",
      "what the model segments, named in the outputs' descriptions (default: the model's target, e.g. nerve)",
    )
    .addHelpText("after", "\nExample:\n  nerveseg export --model results/run1 --onnx model.onnx")
    .action((o) => {
      const { model, config } = loadModel(o.model, toStderr);
      try {
        const bytes = exportOnnx(model, {
          postprocess: config.postprocess,
          target: o.targetName ?? config.target,
        });
        writeFileAtomic(o.onnx, bytes);
        const { inputHeight: h, inputWidth: w, fit } = config.model;
        const outputs = model.presenceHead
          ? `${ONNX_OUTPUTS.mask}, ${ONNX_OUTPUTS.presence}`
          : ONNX_OUTPUTS.mask;
        console.log(
          `wrote ${o.onnx} (${(bytes.length / 1e6).toFixed(1)} MB): image [N,${h},${w},1] 0..255 → ${outputs}`,
        );
        console.log(
          `  metadata_props: preset ${config.model.preset}, fit ${fit}, normalisation mean ${config.normalization.mean.toFixed(3)} ` +
            `std ${config.normalization.std.toFixed(3)} (applied in the graph), postprocess ${JSON.stringify(config.postprocess)}`,
        );
      } finally {
        model.dispose();
      }
    });
}
