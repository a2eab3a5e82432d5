/**
 * An error caused by the user's input (a bad file, a wrong flag). The CLI prints its message as one line
 * and exits non-zero; anything else is a bug and keeps its stack trace.
 * Convention: the message starts with the file it is about: `input/train/1_1.tif: not a TIFF (bad magic)`.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(printable(message));
    this.name = "UserError";
  }
}

/** The longest message kept whole; past it the rest is cut (the file it is about comes first). */
export const MAX_MESSAGE = 400;

/**
 * A message safe to print on one terminal line, whatever bad input it quotes: control characters
 * (newlines, ANSI escapes, bytes of a binary file) become visible \xNN escapes, and a very long message
 * (a 1,000-character CSV line) is cut with a note.
 */
export function printable(message: string): string {
  const clean = message.replace(
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
  return clean.length > MAX_MESSAGE
    ? `${clean.slice(0, MAX_MESSAGE)}… (${clean.length - MAX_MESSAGE} more characters cut)`
    : clean;
}

/** Builds a UserError whose message names the file first. */
export function fileError(file: string, problem: string): UserError {
  return new UserError(`${file}: ${problem}`);
}
