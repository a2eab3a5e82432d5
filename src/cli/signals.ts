/*
 * Interruption: Ctrl-C (SIGINT), SIGTERM and a closed output pipe. By default the command stops at once,
 * every temp file and staging folder it had open is removed (src/io/atomic.ts keeps the list), and one
 * line says so. A command that can stop gracefully (train) registers a handler that asks it to stop at
 * the next safe point instead; a second signal then stops it at once.
 */
import { removeLiveTemps } from "../index.js";

let graceful: ((signal: string) => void) | null = null;

/** Lets the running command stop by itself on the first signal (it then says what it kept). */
export function onInterruptGracefully(handler: (signal: string) => void): void {
  graceful = handler;
}

function stopNow(signal: string, code: number): never {
  const n = removeLiveTemps();
  try {
    process.stderr.write(
      `nerveseg: interrupted (${signal})${n > 0 ? `; removed ${n} unfinished file(s)/folder(s)` : ""}; finished outputs are kept\n`,
    );
  } catch {
    // stderr itself may be the closed pipe.
  }
  process.exit(code);
}

export function installSignalHandlers(): void {
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const)
    process.on(signal, () => {
      if (graceful) {
        const h = graceful;
        graceful = null;
        h(signal);
      } else stopNow(signal, code);
    });
  for (const stream of [process.stdout, process.stderr])
    stream.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE") stopNow("closed pipe", 141);
      throw e;
    });
}
