import * as E from "../../src/engine/index.js";
import { UNet } from "../../src/model/unet.js";

/**
 * The product's two-head U-Net at a small square size, identity normalisation (inputs used as given),
 * computing at `precision` (default fp32).
 */
export function smallUNet(filters: number[], size: number, rng: E.Rng, precision?: E.Precision): UNet {
  return new UNet(
    {
      preset: "test",
      inputHeight: size,
      inputWidth: size,
      kernel: 3,
      fit: "stretch",
      filters,
      presenceHead: true,
      dropout: 0,
    },
    { mean: 0, std: 1 },
    rng,
    precision,
  );
}
