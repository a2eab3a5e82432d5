import { InvalidArgumentError } from "commander";

/** commander parsers that turn a bad flag value into a one-line usage error. */
export function intOption(name: string, min = -Infinity, max = Infinity): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}], got "${v}"`);
    return n;
  };
}

export function floatOption(name: string, min = -Infinity, max = Infinity): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}], got "${v}"`);
    return n;
  };
}

/** WIDTHxHEIGHT, e.g. 256x256. */
export function sizeOption(name: string): (v: string) => { width: number; height: number } {
  return (v) => {
    const m = /^(\d+)x(\d+)$/.exec(v.trim());
    if (!m || Number(m[1]) < 8 || Number(m[2]) < 8 || Number(m[1]) > 16384 || Number(m[2]) > 16384)
      throw new InvalidArgumentError(
        `${name} must be WIDTHxHEIGHT between 8 and 16384, e.g. 256x256; got "${v}"`,
      );
    return { width: Number(m[1]), height: Number(m[2]) };
  };
}

/** One of a fixed list of words. */
export function choiceOption<T extends string>(name: string, choices: readonly T[]): (v: string) => T {
  return (v) => {
    if (!(choices as readonly string[]).includes(v))
      throw new InvalidArgumentError(`${name} must be one of ${choices.join(", ")}; got "${v}"`);
    return v as T;
  };
}

/** A flag that may be given several times: the values in order. */
export function repeatable(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** A duration in minutes: "30m", "1.5h", "90s", or a bare number of minutes. */
export function durationOption(name: string): (v: string) => number {
  return (v) => {
    const m = /^(\d+(?:\.\d+)?)\s*(s|m|min|h)?$/.exec(v.trim());
    const minutes = m ? Number(m[1]) * ({ s: 1 / 60, m: 1, min: 1, h: 60 }[m[2] ?? "m"] ?? 1) : NaN;
    if (!(minutes > 0) || minutes > 10_000)
      throw new InvalidArgumentError(`${name} must be a duration such as 30m, 1.5h or 90s; got "${v}"`);
    return minutes;
  };
}
