/**
 * An error caused by the user's input (a bad file, a wrong flag). The CLI prints its message as one line
 * and exits non-zero; anything else is a bug and keeps its stack trace.
 * Convention: the message starts with the file it is about: `input/train/1_1.tif: not a TIFF (bad magic)`.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}

/** Builds a UserError whose message names the file first. */
export function fileError(file: string, problem: string): UserError {
  return new UserError(`${file}: ${problem}`);
}
