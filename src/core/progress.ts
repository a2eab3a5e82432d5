/**
 * Progress as library functions report it. A long step asks its caller's factory for a reporter per
 * phase (e.g. "resize", then "epoch 3/30"); the CLI's factory draws bars on stderr, a program that
 * imports nerveseg may pass its own or none.
 */
export interface Progress {
  /** `payload` fills the named fields the reporter was asked for (e.g. the running loss). */
  update(done: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

/** Makes a reporter for `total` units of work; `fields` name the values `update` will pass along. */
export type ProgressFactory = (label: string, total: number, fields?: readonly string[]) => Progress;

/** Reports nothing (the default of every library function). */
export const noProgress: ProgressFactory = () => ({ update() {}, stop() {} });

/**
 * Where a library step's lines go (a summary per epoch, notes, the precision chosen). Every library function
 * is silent by default; the CLI passes its printer.
 */
export type Log = (line: string) => void;

/** Prints nothing (the default of every library function). */
export const silent: Log = () => {};
