import type { Command } from "commander";
import { writeFileAtomic } from "../../io/atomic.js";
import { loadModel } from "../../model/model-file.js";
import { exportOnnx } from "../../model/onnx-export.js";

export function register(program: Command): void {
  program
    .command("export")
    .description(
      "write a trained model as ONNX (inputs: raw pixels NHWC at the model's resolution; outputs: mask, presence)",
    )
    .requiredOption("--model <dir>", "model folder written by `nerveseg train`")
    .requiredOption("--onnx <file>", "the .onnx file to write")
    .addHelpText("after", "\nExample:\n  nerveseg export --model results/run1 --onnx model.onnx")
    .action((o) => {
      const { model, config } = loadModel(o.model);
      try {
        const bytes = exportOnnx(model);
        writeFileAtomic(o.onnx, bytes);
        const { inputHeight: h, inputWidth: w } = config.model;
        console.log(
          `wrote ${o.onnx} (${(bytes.length / 1e6).toFixed(1)} MB): image [N,${h},${w},1] 0..255 → mask, presence`,
        );
        console.log(`  post-processing (not in the graph): ${JSON.stringify(config.postprocess)}`);
      } finally {
        model.dispose();
      }
    });
}
