import cliProgress from "cli-progress";
import { noProgress, type Progress, type ProgressFactory } from "../index.js";

export type { Progress, ProgressFactory };

/** True when bars would only clutter a log (CI, a pipe, or --quiet). */
export function quietByDefault(): boolean {
  return Boolean(process.env.CI) || !process.stderr.isTTY;
}

/**
 * A progress bar on stderr with rate and ETA; in quiet mode, a plain line every ~10% instead, so CI logs
 * still show that long work is moving.
 */
export function createProgress(
  label: string,
  total: number,
  quiet = quietByDefault(),
  fields: readonly string[] = [],
): Progress {
  if (quiet) {
    let lastDecile = -1;
    const start = Date.now();
    return {
      update(done) {
        const decile = Math.floor((10 * done) / Math.max(1, total));
        if (decile !== lastDecile && (decile > lastDecile || done === total)) {
          lastDecile = decile;
          const rate = done / Math.max(1e-3, (Date.now() - start) / 1000);
          console.error(`${label}: ${done}/${total} (${rate.toFixed(1)}/s)`);
        }
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {value}/{total} {percentage}% | {rate}/s | ETA {eta_formatted}${fields.map((f) => ` | ${f} {${f}}`).join("")}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  const start = Date.now();
  // Every named field starts as "-", so the first frame never shows a literal "{loss}".
  bar.start(total, 0, { rate: "0.0", ...Object.fromEntries(fields.map((f) => [f, "-"])) });
  return {
    update(done, payload = {}) {
      const rate = (done / Math.max(1e-3, (Date.now() - start) / 1000)).toFixed(1);
      bar.update(done, { rate, ...payload });
    },
    stop() {
      bar.stop();
    },
  };
}

/** The CLI's progress factory: bars on a terminal, a line every ~10% in logs, nothing with --quiet. */
export function progressFactory(quiet?: boolean): ProgressFactory {
  if (quiet) return noProgress;
  return (label, total, fields) => createProgress(label, total, quietByDefault(), fields);
}

/**
 * Bars for work whose log already has a line per unit (training prints a line per epoch): on a terminal
 * only; none in CI, in a pipe or with --quiet.
 */
export function barsUnlessQuiet(quiet?: boolean): ProgressFactory {
  if (quiet || quietByDefault()) return noProgress;
  return (label, total, fields) => createProgress(label, total, false, fields);
}

/** The library's lines (epochs, notes, the precision chosen) go to stderr, beside the progress bars. */
export const toStderr = (line: string): void => console.error(line);
