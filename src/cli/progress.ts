import cliProgress from "cli-progress";

export interface Progress {
  update(done: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

/** True when bars would only clutter a log (CI, a pipe, or --quiet). */
export function quietByDefault(): boolean {
  return Boolean(process.env.CI) || !process.stderr.isTTY;
}

/**
 * A progress bar on stderr with rate and ETA; in quiet mode, a plain line every ~10% instead, so CI logs
 * still show that long work is moving.
 */
export function createProgress(label: string, total: number, quiet = quietByDefault(), extra = ""): Progress {
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
      format: `${label} [{bar}] {value}/{total} {percentage}% | {rate}/s | ETA {eta_formatted}${extra}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  const start = Date.now();
  bar.start(total, 0, { rate: "0.0" });
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
