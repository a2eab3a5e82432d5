// The `nerveseg` command as a user runs it (the built CLI in a child process), for end-to-end tests.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { PROJECT_ROOT } from "./sample.js";

export const CLI = path.join(PROJECT_ROOT, "dist", "src", "cli", "main.js");

/** Runs `nerveseg ...args` (CI=1: a progress line every 10%, no bars) and returns its status and output. */
export function cli(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: "utf8",
    env: { ...process.env, CI: "1" },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
