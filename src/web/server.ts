/**
 * The local viewer: a node:http server over the frames of a data set in any layout or of a folder of
 * images in any format, with their truth and predictions (see frames.ts for the forms each takes). It
 * lists the frames with presence, areas and per-image Dice (sortable, filterable, paginated, and able to
 * find the page a given frame is on) and serves each frame as PNG layers at its own size, decoded when
 * asked for. Ids in URLs are only ever looked up in the index built from the listing, never joined into
 * paths, so a request cannot reach other files.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { UserError } from "../core/errors.js";
import { compareIds } from "../io/ids.js";
import { readImageFile } from "../io/image-read.js";
import { encodePng } from "../io/png.js";
import { runsArea, runsToMask } from "../io/rle.js";
import { diceRuns } from "../metric/dice.js";
import { DEFAULT_POSTPROCESS, fullResProbability, type PostprocessParams } from "../postprocess/mask-rule.js";
import { frameProbMap, type PredictionSet } from "../predict/prediction-store.js";
import type { LayoutOptions } from "../data/layout.js";
import { LAYERS, renderLayer, type Layer } from "./layers.js";
import { CSP, viewerAssets } from "./assets.js";
import { isSafeId, loadFrames, type MaskRuns, type ViewFrame } from "./frames.js";
import type { ImageEntry } from "./client/api.js";
import { allowedHostNames, hostOf, isLoopback } from "./hosts.js";

export interface ViewerOptions {
  /**
   * A folder of images in any format (searched below; files named like masks, `X_mask.png`, are not
   * listed): the Kaggle train/ or test/ folder, a folder of PNGs, DICOMs, ...
   */
  images?: string;
  /** A data set in any layout `nerveseg prepare` reads, its masks as the truth (instead of images + truth). */
  data?: string;
  layout?: LayoutOptions;
  /** The truth masks are label maps: this value is the structure. */
  maskLabel?: number;
  /**
   * Predictions: a `nerveseg predict` output for files (predictions.csv + masks/), a folder of mask images,
   * a predictions CSV, or a prediction folder (predictions.json + probs.npy).
   */
  preds?: string;
  /** Truth: a Kaggle CSV (subject,img,pixels or img,pixels), a predictions-style CSV, or a folder of masks. */
  truth?: string;
  /** Post-processing of a prediction folder's probabilities. */
  params?: PostprocessParams;
  /** Default 127.0.0.1 (loopback only); another address, or "" (every interface), needs allowRemote. */
  host?: string;
  /** Listen on an address others can reach (the page serves the images to whoever reaches it). */
  allowRemote?: boolean;
  /** Host names (or addresses) requests may name besides the bound address (a name on your network). */
  allowedHosts?: string[];
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Called while the masks are read and scored at start-up. */
  onProgress?: (done: number, total: number) => void;
}

export type { ImageEntry } from "./client/api.js";

export interface ViewerIndex {
  images: ImageEntry[];
  frames: Map<string, ViewFrame>;
  /** The probability maps, when the predictions are a prediction folder (for the heat-map). */
  probs: PredictionSet | null;
  hasTruth: boolean;
  hasPreds: boolean;
  params: PostprocessParams;
  /** Mean Dice over the frames that have both a prediction and truth. */
  meanDice: number | null;
  source: { images: string; data: string | null; preds: string | null; truth: string | null };
  /** What was left out, for the user. */
  notes: string[];
}

export const SORT_KEYS = ["id", "dice", "presence", "predArea", "truthArea"] as const;
export type SortKey = (typeof SORT_KEYS)[number];

/**
 * Which frames a listing shows: all; those with a target (a non-empty true mask); false positives (empty
 * truth, non-empty prediction); false negatives (non-empty truth, empty prediction).
 */
export const FILTERS = ["all", "target", "fp", "fn"] as const;
export type Filter = (typeof FILTERS)[number];

export function passesFilter(it: ImageEntry, filter: Filter): boolean {
  const truth = it.truthArea;
  const pred = it.predArea;
  if (filter === "target") return truth !== null && truth > 0;
  if (filter === "fp") return truth === 0 && pred !== null && pred > 0;
  if (filter === "fn") return truth !== null && truth > 0 && pred === 0;
  return true;
}

/** Lists the frames, reads truth and predictions, and scores every frame that has both. */
export async function buildIndex(opts: ViewerOptions): Promise<ViewerIndex> {
  const params = opts.params ?? DEFAULT_POSTPROCESS;
  const loaded = await loadFrames({ ...opts, params });
  const images: ImageEntry[] = [];
  const frames = new Map<string, ViewFrame>();
  let diceSum = 0;
  let diceCount = 0;
  for (const f of loaded.frames) {
    frames.set(f.id, f);
    const entry: ImageEntry = {
      id: f.id,
      presence: f.pred?.presence ?? null,
      predArea: f.pred ? runsArea(f.pred.runs) : null,
      truthArea: f.truth ? runsArea(f.truth.runs) : null,
      dice: null,
    };
    if (f.truth && f.pred) {
      entry.dice = diceRuns(f.pred.runs, f.truth.runs);
      diceSum += entry.dice;
      diceCount++;
    }
    images.push(entry);
  }
  return {
    images,
    frames,
    probs: loaded.probs,
    hasTruth: loaded.hasTruth,
    hasPreds: loaded.hasPreds,
    params,
    meanDice: diceCount > 0 ? diceSum / diceCount : null,
    source: {
      images: loaded.root,
      data: opts.data ?? null,
      preds: opts.preds ?? null,
      truth: opts.truth ?? null,
    },
    notes: loaded.notes,
  };
}

/**
 * Where a frame goes when sorting by Dice: 0 = a real score (the truth or the prediction has pixels),
 * 1 = both masks empty, 2 = no score (no prediction or no truth).
 *
 * Both-empty frames score 1 by convention (the Kaggle rule), yet there is nothing in them to look at: on the
 * real training set about 60% of the frames are such true negatives, so Dice-descending used to open with
 * page after page of empty frames at 1.0. They are therefore ranked after every frame with something to see
 * (a target, or a false positive), in both orders, and among themselves by id; the Dice order is kept among
 * the rest, so descending starts with the best real segmentations and ascending with the worst. False
 * positives (empty truth, predicted pixels: Dice 0) are real errors and stay in the ranking.
 */
function diceGroup(it: ImageEntry): number {
  if (it.dice === null) return 2;
  return it.truthArea === 0 && it.predArea === 0 ? 1 : 0;
}

/** The listing filtered and sorted (not paged); null values (no prediction / no truth) always sort last. */
export function sortedImages(
  index: ViewerIndex,
  sort: SortKey,
  order: "asc" | "desc",
  filter: Filter = "all",
): ImageEntry[] {
  const sign = order === "asc" ? 1 : -1;
  const items = index.images.filter((it) => passesFilter(it, filter));
  if (sort === "id") items.sort((a, b) => sign * compareIds(a.id, b.id));
  else {
    items.sort((a, b) => {
      if (sort === "dice") {
        const ga = diceGroup(a);
        const gb = diceGroup(b);
        if (ga !== gb) return ga - gb;
        if (ga !== 0) return compareIds(a.id, b.id);
      }
      const x = a[sort];
      const y = b[sort];
      if (x === null || y === null) return x === y ? compareIds(a.id, b.id) : x === null ? 1 : -1;
      return x !== y ? sign * (x - y) : compareIds(a.id, b.id);
    });
  }
  return items;
}

/** The listing filtered, sorted and paged. */
export function listImages(
  index: ViewerIndex,
  sort: SortKey,
  order: "asc" | "desc",
  offset: number,
  limit: number,
  filter: Filter = "all",
): ImageEntry[] {
  return sortedImages(index, sort, order, filter).slice(offset, offset + limit);
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function intParam(q: URLSearchParams, name: string, def: number, min: number, max: number): number {
  const raw = q.get(name);
  if (raw === null || raw === "") return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new HttpError(400, `${name} must be an integer in [${min}, ${max}]`);
  return n;
}

/**
 * GET /api/images?sort=&order=&filter=&offset=&limit=[&around=<id>]. With `around`, the offset is moved to
 * the page (of `limit` frames) that holds that frame, and `position` is its place in the whole sorted
 * listing (-1 when the filter leaves it out or there is no such frame).
 */
function apiImages(index: ViewerIndex, q: URLSearchParams): unknown {
  const sort = (q.get("sort") ?? "id") as SortKey;
  if (!SORT_KEYS.includes(sort)) throw new HttpError(400, `sort must be one of ${SORT_KEYS.join(", ")}`);
  const order = q.get("order") ?? "asc";
  if (order !== "asc" && order !== "desc") throw new HttpError(400, "order must be asc or desc");
  const filter = (q.get("filter") ?? "all") as Filter;
  if (!FILTERS.includes(filter)) throw new HttpError(400, `filter must be one of ${FILTERS.join(", ")}`);
  if (filter === "target" && !index.hasTruth) throw new HttpError(400, "filter target needs truth (--truth)");
  if ((filter === "fp" || filter === "fn") && !(index.hasTruth && index.hasPreds))
    throw new HttpError(400, `filter ${filter} needs truth and predictions (--truth, --preds)`);
  let offset = intParam(q, "offset", 0, 0, 1e9);
  const limit = intParam(q, "limit", 48, 1, 10_000);
  const around = q.get("around");
  if (around !== null && !isSafeId(around)) throw new HttpError(400, "bad image id in around");
  const items = sortedImages(index, sort, order, filter);
  let position: number | null = null;
  if (around !== null) {
    position = items.findIndex((it) => it.id === around);
    if (position >= 0) offset = Math.floor(position / limit) * limit;
  }
  return {
    total: items.length,
    frames: index.images.length,
    offset,
    limit,
    sort,
    order,
    filter,
    position,
    hasPreds: index.hasPreds,
    hasTruth: index.hasTruth,
    hasProbs: index.probs !== null,
    meanDice: index.meanDice,
    params: index.params,
    model: index.probs?.model ?? null,
    tta: index.probs?.tta ?? null,
    source: index.source,
    items: items.slice(offset, offset + limit),
  };
}

/** A mask of the frame's size, or a 422 naming both files when it is of another size. */
function maskOf(
  m: MaskRuns | null,
  image: { width: number; height: number },
  file: string,
): Uint8Array | null {
  if (!m) return null;
  if (m.width !== image.width || m.height !== image.height)
    throw new HttpError(
      422,
      `${m.where}: mask is ${m.width}x${m.height} but the image ${file} is ${image.width}x${image.height}`,
    );
  return runsToMask(m.runs, m.width, m.height);
}

/** Renders /img/<id>.png: the frame decoded now, at its own size (or half of it). */
async function imagePng(index: ViewerIndex, id: string, q: URLSearchParams): Promise<Buffer> {
  const f = index.frames.get(id);
  if (f === undefined) throw new HttpError(404, `no image ${id}`);
  const layer = (q.get("layer") ?? "overlay") as Layer;
  if (!LAYERS.includes(layer)) throw new HttpError(400, `layer must be one of ${LAYERS.join(", ")}`);
  const size = q.get("size") ?? "full";
  if (size !== "full" && size !== "half") throw new HttpError(400, "size must be full or half");
  const decoded = await readImageFile(f.file, { frames: f.frame === 0 ? "first" : "all" });
  const frame = decoded.frames[f.frame];
  if (!frame) throw new HttpError(422, `${f.file}: has ${decoded.frameCount} frame(s), not ${f.frame + 1}`);
  const image = frame.image;
  let truth: Uint8Array | null = null;
  let pred: Uint8Array | null = null;
  let prob: Float32Array | null = null;
  if (layer !== "image") {
    truth = maskOf(f.truth, image, f.file);
    pred = maskOf(f.pred, image, f.file);
    const i = f.pred?.prob ?? null;
    if (layer === "heat" && index.probs && i !== null) {
      const own = { width: image.width, height: image.height };
      prob = fullResProbability(frameProbMap(index.probs, i, own), index.params, own);
    }
  }
  const out = renderLayer(layer, { image, truth, pred, prob }, size === "half");
  return encodePng(out.rgb, out.width, out.height);
}

/** The request handler, separate from listen() so tests can drive it on an ephemeral port. */
export function createViewerServer(index: ViewerIndex, hosts: ReadonlySet<string>): http.Server {
  const assets = viewerAssets();
  return http.createServer((req, res) => void handle(req, res));

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const send = (status: number, type: string, body: string | Buffer, cache = "no-store"): void => {
      res.writeHead(status, {
        "Content-Type": type,
        "Cache-Control": cache,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": CSP,
      });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    try {
      if (req.method !== "GET" && req.method !== "HEAD") throw new HttpError(405, "only GET and HEAD");
      // A page on another site cannot reach this server through a rebound DNS name: its Host is not ours.
      if (!hosts.has(hostOf(req.headers.host))) throw new HttpError(403, "unexpected Host header");
      const url = new URL(req.url ?? "/", "http://localhost");
      const asset = assets.get(url.pathname);
      if (asset) {
        send(200, asset.type, asset.body);
        return;
      }
      if (url.pathname === "/api/images") {
        send(200, "application/json", JSON.stringify(apiImages(index, url.searchParams)));
        return;
      }
      const m = /^\/img\/([^/]+)\.png$/.exec(url.pathname);
      if (m) {
        let id: string;
        try {
          id = decodeURIComponent(m[1]);
        } catch {
          throw new HttpError(400, "bad image id");
        }
        if (!isSafeId(id)) throw new HttpError(400, "bad image id");
        const png = await imagePng(index, id, url.searchParams);
        send(200, "image/png", png, "max-age=300");
        return;
      }
      throw new HttpError(404, "not found");
    } catch (e) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const status = e instanceof HttpError ? e.status : e instanceof UserError ? 422 : 500;
      send(status, "text/plain; charset=utf-8", `${e instanceof Error ? e.message : String(e)}\n`);
    }
  }
}

export interface RunningViewer {
  url: string;
  server: http.Server;
  index: ViewerIndex;
  close(): Promise<void>;
}

/** Builds the index and listens (127.0.0.1:8080 unless told otherwise). */
export async function startViewer(opts: ViewerOptions): Promise<RunningViewer> {
  const host = opts.host ?? "127.0.0.1";
  if (!isLoopback(host) && !opts.allowRemote)
    throw new UserError(
      `--host ${JSON.stringify(host)} is ${host === "" ? "every interface" : "not a loopback address"}: the viewer would serve these images to anyone who reaches it; add --allow-remote to mean it`,
    );
  const index = await buildIndex(opts);
  const server = createViewerServer(index, allowedHostNames(host, opts.allowedHosts));
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        e.code === "EADDRINUSE"
          ? new UserError(`port ${opts.port ?? 8080} on ${host} is in use (try --port 0)`)
          : e,
      ),
    );
    // "" means every interface, as node's listen() takes an absent host.
    server.listen(opts.port ?? 8080, host === "" ? undefined : host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${shownHost}:${addr.port}/`,
    server,
    index,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
