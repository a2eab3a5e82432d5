/*
 * The decode-limit flags (src/io/limits.ts) of every command that reads images: --max-pixels, --max-frames,
 * --max-total-pixels and --max-expansion. A file over a limit is refused with one line naming the flag that
 * raises it; the values are put in force before the command runs (and reach its decode workers).
 */
import type { Command } from "commander";
import { DEFAULT_DECODE_LIMITS, LIMIT_FLAGS, setDecodeLimits, type DecodeLimits } from "../index.js";
import { floatOption, intOption } from "./options.js";

const D = DEFAULT_DECODE_LIMITS;
const F = LIMIT_FLAGS;

export function addDecodeLimitOptions(cmd: Command): Command {
  return cmd
    .option(
      `${F.maxPixels} <n>`,
      "refuse images of more pixels per frame (width x height)",
      intOption(F.maxPixels, 1, Number.MAX_SAFE_INTEGER),
      D.maxPixels,
    )
    .option(
      `${F.maxFrames} <n>`,
      "refuse files of more frames (DICOM cine, multi-page TIFF, animated GIF)",
      intOption(F.maxFrames, 1, Number.MAX_SAFE_INTEGER),
      D.maxFrames,
    )
    .option(
      `${F.maxTotalPixels} <n>`,
      "refuse files of more pixels in all their frames together",
      intOption(F.maxTotalPixels, 1, Number.MAX_SAFE_INTEGER),
      D.maxTotalPixels,
    )
    .option(
      `${F.maxExpansion} <x>`,
      "refuse files whose header promises more decoded bytes per byte of data than this",
      floatOption(F.maxExpansion, 1, Number.MAX_SAFE_INTEGER),
      D.maxExpansion,
    )
    .hook("preAction", (_program, action) => {
      const o = action.opts<DecodeLimits>();
      setDecodeLimits({
        maxPixels: o.maxPixels,
        maxFrames: o.maxFrames,
        maxTotalPixels: o.maxTotalPixels,
        maxExpansion: o.maxExpansion,
      });
    });
}
