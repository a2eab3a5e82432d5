import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The project root (tests run from dist/test/..., so walk up to package.json). */
export const PROJECT_ROOT = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, "package.json"))) dir = path.dirname(dir);
  return dir;
})();

/** The real Kaggle sample shipped beside the project (never inside it). */
export const SAMPLE_DIR = path.resolve(PROJECT_ROOT, "..", "shared", "data", "kaggle-sample");

/**
 * `skip` option for node:test: a clear reason when the real sample is absent (a user's clone),
 * false when it is there.
 */
export const needsSample: string | false = fs.existsSync(SAMPLE_DIR)
  ? false
  : `real Kaggle sample not found at ${SAMPLE_DIR} (it lives in ../shared beside the project)`;

/** A fresh temp folder for one test. */
export function tempDir(prefix = "nerveseg-test-"): string {
  return fs.mkdtempSync(path.join(fs.realpathSync("/tmp"), prefix));
}

/** The real data sets beside the project (see ../shared/data/README.md). */
export const NERVE_REAL_DIR = path.resolve(PROJECT_ROOT, "..", "shared", "data", "nerve-real");
export const DDTI_DIR = path.resolve(PROJECT_ROOT, "..", "shared", "data", "ddti-thyroid");
export const USGRA_DIR = path.resolve(PROJECT_ROOT, "..", "shared", "data", "usgra-nerve-vessel");

/** `skip` option for tests on a real data set in ../shared: a clear reason when it is absent. */
export function needsData(dir: string): string | false {
  return fs.existsSync(dir)
    ? false
    : `real data set not found at ${dir} (it lives in ../shared beside the project)`;
}
