/**
 * What the viewer serves besides data: the page (src/web/page.ts), its stylesheet, and the page script's
 * ES modules, built by src/web/client/tsconfig.json into dist/src/web/client/, that is next to this module
 * once built (found from import.meta.url). The modules are read when the server is made and looked up by
 * URL path in a fixed set, never joined into a file path, so a request cannot reach any other file.
 */
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { UserError } from "../core/errors.js";
import { VIEWER_CSS, VIEWER_HTML } from "./page.js";

const CLIENT_DIR = new URL("./client/", import.meta.url);
/** Emitted modules only: not the folder's tsconfig, maps or anything else that may lie there. */
const MODULE_RE = /^[a-z][a-z0-9-]*\.js$/;

/**
 * The page runs only this server's own script and stylesheet (no inline script, style or handler), talks
 * only to this server, and cannot be framed. data: images are for the empty favicon the page names.
 */
export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

export interface Asset {
  type: string;
  body: string | Buffer;
}

/** URL path → the page, its stylesheet and each module of the page script. */
export function viewerAssets(): Map<string, Asset> {
  const page: Asset = { type: "text/html; charset=utf-8", body: VIEWER_HTML };
  const assets = new Map<string, Asset>([
    ["/", page],
    ["/index.html", page],
    ["/viewer.css", { type: "text/css; charset=utf-8", body: VIEWER_CSS }],
  ]);
  let names: string[] = [];
  try {
    names = fs.readdirSync(CLIENT_DIR);
  } catch {
    // Not built: refused just below, naming what is missing.
  }
  for (const name of names.filter((n) => MODULE_RE.test(n))) {
    const body = fs.readFileSync(new URL(name, CLIENT_DIR));
    assets.set(`/client/${name}`, { type: "text/javascript; charset=utf-8", body });
  }
  if (!assets.has("/client/viewer.js")) {
    const missing = fileURLToPath(new URL("viewer.js", CLIENT_DIR));
    throw new UserError(`${missing}: the viewer's page script is not built (run npm run build)`);
  }
  return assets;
}
