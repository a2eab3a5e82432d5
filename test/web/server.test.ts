import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { after, before, test } from "node:test";
import { decodePngRgb } from "../helpers/images.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH, type GreyImage } from "../../src/io/image.js";
import { contourBand, PRED_COLOR, TRUTH_COLOR } from "../../src/report/overlay.js";
import { decodeRle } from "../../src/io/rle.js";
import { readTiff, writeTiff } from "../../src/io/tiff.js";
import { dice } from "../../src/metric/dice.js";
import { DEFAULT_POSTPROCESS, postprocess } from "../../src/postprocess/mask-rule.js";
import { readPredictions } from "../../src/predict/prediction-store.js";
import { startViewer, type RunningViewer } from "../../src/web/server.js";
import { allowedHostNames, isLoopback } from "../../src/web/hosts.js";
import { UserError } from "../../src/core/errors.js";
import { needsSample, SAMPLE_DIR, tempDir } from "../helpers/sample.js";
import { writeFakePredictions } from "./fake-preds.js";
import type { Listing } from "../../src/web/client/api.js";

const W = KAGGLE_WIDTH;
const H = KAGGLE_HEIGHT;

/** Five synthetic frames (a gradient with a bright ellipse where the "nerve" is) and their masks. */
function makeFolder(): { images: string; preds: string; masks: Map<string, Uint8Array> } {
  const root = tempDir("nerveseg-viewer-");
  const images = path.join(root, "train");
  fs.mkdirSync(images);
  const masks = new Map<string, Uint8Array>();
  for (let k = 1; k <= 5; k++) {
    const id = `3_${k}`;
    const img: GreyImage = { width: W, height: H, data: new Uint8Array(W * H) };
    const mask = new Uint8Array(W * H);
    const cx = 150 + 60 * k;
    const cy = 210;
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const inside = k !== 5 && ((x - cx) / 50) ** 2 + ((y - cy) / 30) ** 2 <= 1;
        img.data[y * W + x] = inside ? 200 : (x + y) % 120;
        if (inside) mask[y * W + x] = 255;
      }
    writeTiff(path.join(images, `${id}.tif`), img);
    writeTiff(path.join(images, `${id}_mask.tif`), { width: W, height: H, data: mask });
    masks.set(id, mask);
  }
  const preds = path.join(root, "preds");
  writeFakePredictions(preds, masks);
  return { images, preds, masks };
}

/** A raw GET (no URL normalisation by the client), with an optional Host header. */
function rawGet(
  url: string,
  pathname: string,
  host?: string,
  method = "GET",
): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: pathname,
        method,
        headers: host ? { Host: host } : {},
        timeout: 10_000,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

let folder: ReturnType<typeof makeFolder>;
let viewer: RunningViewer;

before(async () => {
  folder = makeFolder();
  viewer = await startViewer({ images: folder.images, preds: folder.preds, truth: folder.images, port: 0 });
});

after(async () => {
  await viewer?.close();
});

test("the server listens on loopback on an ephemeral port", () => {
  const u = new URL(viewer.url);
  assert.equal(u.hostname, "127.0.0.1");
  assert.ok(Number(u.port) > 0);
});

test("/api/images lists frames (not masks) with presence, areas and per-image Dice, worst first", async () => {
  const res = await fetch(`${viewer.url}api/images?sort=dice&order=asc`);
  assert.equal(res.status, 200);
  const data = (await res.json()) as Listing;
  assert.equal(data.total, 5);
  assert.equal(data.hasPreds, true);
  assert.equal(data.hasTruth, true);
  assert.deepEqual(data.items.map((it) => it.id).sort(), ["3_1", "3_2", "3_3", "3_4", "3_5"]);
  const dices = data.items.map((it) => it.dice!);
  assert.deepEqual(
    dices,
    dices.slice().sort((a, b) => a - b),
  );
  // Each number checked against postprocess + Dice done here, from the files.
  const preds = readPredictions(folder.preds);
  let sum = 0;
  for (const it of data.items) {
    const i = preds.ids.indexOf(it.id);
    const mask = postprocess(
      { data: preds.probs[i], width: preds.width, height: preds.height },
      preds.presence[i],
      DEFAULT_POSTPROCESS,
    );
    const truth = folder.masks.get(it.id)!;
    assert.equal(it.presence, preds.presence[i]);
    assert.equal(
      it.predArea,
      mask.reduce((a, v) => a + v, 0),
    );
    assert.equal(
      it.truthArea,
      truth.reduce((a, v) => a + (v ? 1 : 0), 0),
    );
    assert.equal(it.dice, dice(mask, truth));
    sum += it.dice!;
  }
  assert.ok(Math.abs(data.meanDice! - sum / 5) < 1e-12);
  // The spoiled frames score badly, the clean one well: 3_4 (index 3) is the missed nerve.
  assert.equal(data.items[0].dice, 0);
  assert.ok(data.items[4].dice! > 0.8);
});

test("/api/images pages and sorts by other keys", async () => {
  const page = (await (
    await fetch(`${viewer.url}api/images?sort=id&order=desc&offset=1&limit=2`)
  ).json()) as Listing;
  assert.deepEqual(
    page.items.map((it) => it.id),
    ["3_4", "3_3"],
  );
  const byArea = (await (await fetch(`${viewer.url}api/images?sort=truthArea&order=asc`)).json()) as Listing;
  assert.equal(byArea.items[0].id, "3_5"); // the empty frame
  const bad = await fetch(`${viewer.url}api/images?sort=name`);
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /sort must be one of/);
  assert.equal((await fetch(`${viewer.url}api/images?limit=0`)).status, 400);
});

test("sorting by Dice ranks frames where both masks are empty after every scored frame, in both orders", async () => {
  // 3_5 has no nerve and no prediction: Dice 1 by convention, nothing to look at.
  for (const order of ["asc", "desc"]) {
    const data = (await (await fetch(`${viewer.url}api/images?sort=dice&order=${order}`)).json()) as Listing;
    const ids = data.items.map((it) => it.id);
    assert.equal(ids[ids.length - 1], "3_5", order);
    const real = data.items.slice(0, -1).map((it) => it.dice!);
    const sorted = real.slice().sort((a, b) => (order === "asc" ? a - b : b - a));
    assert.deepEqual(real, sorted, order);
  }
  const top = (await (await fetch(`${viewer.url}api/images?sort=dice&order=desc&limit=1`)).json()) as Listing;
  assert.ok(top.items[0].truthArea! > 0 && top.items[0].dice! > 0.8 && top.items[0].dice! < 1);
});

test("/api/images filters: frames with a target, false negatives, false positives", async () => {
  const get = async (q: string) =>
    (await (await fetch(`${viewer.url}api/images?sort=id&${q}`)).json()) as Listing;
  const target = await get("filter=target");
  assert.deepEqual(
    target.items.map((it) => it.id),
    ["3_1", "3_2", "3_3", "3_4"],
  );
  assert.equal(target.total, 4);
  assert.equal(target.frames, 5);
  const fn = await get("filter=fn");
  assert.deepEqual(
    fn.items.map((it) => it.id),
    ["3_4"],
  ); // the missed nerve
  assert.ok(fn.items.every((it) => it.truthArea! > 0 && it.predArea === 0));
  const fp = await get("filter=fp");
  assert.ok(fp.items.every((it) => it.truthArea === 0 && it.predArea! > 0));
  assert.equal(fp.total, 0);
  assert.equal((await get("filter=all")).total, 5);
  const bad = await fetch(`${viewer.url}api/images?filter=maybe`);
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /filter must be one of all, target, fp, fn/);
});

test("/api/images?around=<id> pages to the frame and says where it is", async () => {
  const at = (await (await fetch(`${viewer.url}api/images?sort=id&limit=2&around=3_4`)).json()) as Listing;
  assert.equal(at.offset, 2);
  assert.equal(at.position, 3);
  assert.deepEqual(
    at.items.map((it) => it.id),
    ["3_3", "3_4"],
  );
  const hidden = (await (
    await fetch(`${viewer.url}api/images?sort=id&limit=2&offset=2&filter=fn&around=3_1`)
  ).json()) as Listing;
  assert.equal(hidden.position, -1, "the filter leaves it out");
  assert.equal(hidden.offset, 2, "the offset asked for stays");
  assert.equal((await fetch(`${viewer.url}api/images?around=..%2Fx`)).status, 400);
});

test("/img/<id>.png: the image layer is the frame; overlay: truth blue outside, prediction orange inside, 2 px", async () => {
  const id = "3_2"; // shifted prediction: both contours visible
  const frame = readTiff(path.join(folder.images, `${id}.tif`));
  const plain = await fetch(`${viewer.url}img/${id}.png?layer=image`);
  assert.equal(plain.status, 200);
  assert.equal(plain.headers.get("content-type"), "image/png");
  const img = decodePngRgb(Buffer.from(await plain.arrayBuffer()));
  assert.equal(img.width, W);
  assert.equal(img.height, H);
  for (let i = 0; i < W * H; i++) assert.equal(img.rgb[i * 3 + 1], frame.data[i]);

  const over = decodePngRgb(Buffer.from(await (await fetch(`${viewer.url}img/${id}.png`)).arrayBuffer()));
  const preds = readPredictions(folder.preds);
  const i = preds.ids.indexOf(id);
  const pred = postprocess(
    { data: preds.probs[i], width: preds.width, height: preds.height },
    preds.presence[i],
    DEFAULT_POSTPROCESS,
  );
  const truth = folder.masks.get(id)!;
  const predEdge = contourBand(pred, W, H, 2, "inner");
  const truthEdge = contourBand(truth, W, H, 2, "outer");
  let orange = 0;
  let blue = 0;
  const is = (p: number, c: readonly number[]) =>
    over.rgb[p * 3] === c[0] && over.rgb[p * 3 + 1] === c[1] && over.rgb[p * 3 + 2] === c[2];
  for (let p = 0; p < W * H; p++) {
    const isOrange = is(p, PRED_COLOR);
    const isBlue = is(p, TRUTH_COLOR);
    assert.equal(isOrange, predEdge[p] === 1, `orange at ${p}`);
    assert.equal(isBlue, truthEdge[p] === 1 && predEdge[p] === 0, `blue at ${p}`);
    if (isOrange) {
      orange++;
      assert.ok(pred[p] !== 0, "the prediction's band is inside the prediction");
    }
    if (isBlue) {
      blue++;
      assert.equal(truth[p], 0, "the truth's band is just outside the truth");
    }
  }
  assert.ok(orange > 200 && blue > 200, `orange ${orange}, blue ${blue}`);
});

test("/img: heat layer colours only where there is probability; half size is 290x210", async () => {
  const id = "3_1";
  const heat = decodePngRgb(
    Buffer.from(await (await fetch(`${viewer.url}img/${id}.png?layer=heat`)).arrayBuffer()),
  );
  const frame = readTiff(path.join(folder.images, `${id}.tif`));
  // Far from the nerve (top-left corner) the probability is 0: the frame shows through unchanged.
  for (const p of [0, 5 * W + 5, 20 * W + 30])
    assert.deepEqual(
      [...heat.rgb.subarray(p * 3, p * 3 + 3)],
      [0, 0, 0].map(() => frame.data[p]),
    );
  // At the nerve's centre (probability ~1) the pixel is tinted red.
  const c = 210 * W + 210;
  assert.ok(heat.rgb[c * 3] > heat.rgb[c * 3 + 2] + 50, `centre ${[...heat.rgb.subarray(c * 3, c * 3 + 3)]}`);
  // The prediction is outlined in white on the heat layer (red would not show on the red core).
  const preds = readPredictions(folder.preds);
  const i = preds.ids.indexOf(id);
  const pred = postprocess(
    { data: preds.probs[i], width: preds.width, height: preds.height },
    preds.presence[i],
    DEFAULT_POSTPROCESS,
  );
  const edge = contourBand(pred, W, H, 2, "inner");
  let white = 0;
  for (let p = 0; p < W * H; p++) {
    if (!edge[p]) continue;
    assert.deepEqual([...heat.rgb.subarray(p * 3, p * 3 + 3)], [255, 255, 255], `edge ${p}`);
    white++;
  }
  assert.ok(white > 200);
  const half = decodePngRgb(
    Buffer.from(await (await fetch(`${viewer.url}img/${id}.png?size=half`)).arrayBuffer()),
  );
  assert.deepEqual([half.width, half.height], [290, 210]);
});

test("bad ids, path traversal, other hosts and methods are refused", async () => {
  const cases: [string, number][] = [
    ["/img/..%2F..%2F..%2Fetc%2Fpasswd.png", 400],
    ["/img/%2E%2E.png", 400],
    ["/img/3_1%00.png", 400],
    ["/img/9_9.png", 404],
    ["/img/3_1_mask.png", 404], // masks are not frames
    ["/img/3_1.png?layer=secret", 400],
    ["/../../etc/passwd", 404],
    ["/nothing", 404],
  ];
  for (const [p, status] of cases) assert.equal((await rawGet(viewer.url, p)).status, status, p);
  const evil = await rawGet(viewer.url, "/api/images", "evil.example:80");
  assert.equal(evil.status, 403);
  assert.equal(
    (await rawGet(viewer.url, "/api/images", `localhost:${new URL(viewer.url).port}`)).status,
    200,
  );
  assert.equal((await rawGet(viewer.url, "/api/images", undefined, "POST")).status, 405);
});

/** The page's script: its entry module and every module that imports, by URL path, as served. */
async function pageScript(html: string): Promise<Map<string, string>> {
  const entry = /<script type="module" src="([^"]+)"><\/script>/.exec(html);
  assert.ok(entry, "the page loads its script as a module");
  const modules = new Map<string, string>();
  const queue = [new URL(entry[1], viewer.url)];
  for (let u = queue.shift(); u; u = queue.shift()) {
    if (modules.has(u.pathname)) continue;
    const res = await fetch(u);
    assert.equal(res.status, 200, u.pathname);
    const text = await res.text();
    modules.set(u.pathname, text);
    for (const m of text.matchAll(/\bfrom "(\.[^"]+)"/g)) queue.push(new URL(m[1], u));
  }
  return modules;
}

test("the page is served and names its endpoints", async () => {
  const res = await fetch(viewer.url);
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.match(html, /<title>nerveseg viewer<\/title>/);
  const script = [...(await pageScript(html)).values()].join("\n");
  assert.match(script, /\/api\/images\?/);
  assert.match(script, /"\/img\/" \+ id \+ "\.png\?layer=" \+ layer/);
  assert.match(script, /"heat"/);
});

test("the page has no inline script or style; its modules are the built ones, served as JavaScript", async () => {
  const res = await fetch(viewer.url);
  const csp = res.headers.get("content-security-policy") ?? "";
  assert.match(csp, /(^|; )default-src 'none'(;|$)/);
  assert.match(csp, /(^|; )script-src 'self'(;|$)/);
  assert.match(csp, /(^|; )style-src 'self'(;|$)/);
  assert.doesNotMatch(csp, /unsafe|nonce-|sha256-/);
  const html = await res.text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, "no inline script");
  assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=|javascript:/i, "no inline style or handler");
  const modules = await pageScript(html);
  assert.ok(modules.size >= 2, [...modules.keys()].join(", "));
  const built = new URL("../../src/web/client/", import.meta.url);
  for (const [pathname, text] of modules) {
    assert.match(pathname, /^\/client\/[a-z-]+\.js$/);
    assert.equal(text, fs.readFileSync(new URL(pathname.slice("/client/".length), built), "utf8"), pathname);
    const r = await fetch(new URL(pathname, viewer.url));
    assert.equal(r.headers.get("content-type"), "text/javascript; charset=utf-8", pathname);
    assert.equal(r.headers.get("content-security-policy"), csp);
  }
  assert.ok(modules.has("/client/viewer.js"));
  const css = await fetch(`${viewer.url}viewer.css`);
  assert.equal(css.status, 200);
  assert.equal(css.headers.get("content-type"), "text/css; charset=utf-8");
  assert.match(html, /<link rel="stylesheet" href="\/viewer\.css">/);
});

test("only the built modules are served from /client/: other names and traversal are 404", async () => {
  const cases = [
    "/client/",
    "/client/nope.js",
    "/client/viewer.ts",
    "/client/viewer.js.map",
    "/client/tsconfig.json",
    "/client/../server.js",
    "/client/..%2Fserver.js",
    "/client/%2E%2E/server.js",
    "/client/%2E%2E%2Fassets.js",
    "/client/./viewer.js/",
    "/client//viewer.js",
    "/client/VIEWER.JS",
    "/server.js",
    "/viewer.js",
    "/src/web/client/viewer.ts",
    "/dist/src/web/client/viewer.js",
  ];
  for (const p of cases) assert.equal((await rawGet(viewer.url, p)).status, 404, p);
  assert.equal((await rawGet(viewer.url, "/client/./viewer.js")).status, 200, "the same file, normalised");
  assert.equal((await rawGet(viewer.url, "/client/viewer.js", "evil.example")).status, 403);
});

test("without predictions or truth the listing still works (nulls, no Dice)", async () => {
  const v = await startViewer({ images: folder.images, port: 0 });
  try {
    const data = (await (await fetch(`${v.url}api/images`)).json()) as Listing;
    assert.equal(data.total, 5);
    assert.equal(data.hasPreds, false);
    const noTruth = await fetch(`${v.url}api/images?filter=target`);
    assert.equal(noTruth.status, 400);
    assert.match(await noTruth.text(), /needs truth/);
    assert.equal(data.meanDice, null);
    assert.deepEqual(data.items[0], {
      id: "3_1",
      presence: null,
      predArea: null,
      truthArea: null,
      dice: null,
    });
    assert.equal((await fetch(`${v.url}img/3_1.png`)).status, 200);
  } finally {
    await v.close();
  }
  await assert.rejects(
    startViewer({ images: path.join(folder.images, "nope"), port: 0 }),
    /nope: cannot read folder/,
  );
});

test(
  "on the real sample: 50 training frames, truth from train_masks.csv",
  { skip: needsSample },
  async () => {
    const truthCsv = path.join(SAMPLE_DIR, "train_masks.csv");
    const images = path.join(SAMPLE_DIR, "train");
    const masks = new Map<string, Uint8Array>();
    const rows = fs.readFileSync(truthCsv, "utf8").split("\n").slice(1);
    for (const row of rows) {
      const [s, i, rle] = row.split(",");
      if (s === "1" && Number(i) <= 50) masks.set(`1_${i}`, decodeRle(rle ?? "", W, H));
    }
    const preds = path.join(tempDir(), "preds");
    writeFakePredictions(preds, masks);
    const v = await startViewer({ images, preds, truth: truthCsv, port: 0 });
    try {
      const data = (await (await fetch(`${v.url}api/images?sort=dice&limit=100`)).json()) as Listing;
      assert.equal(data.total, 50);
      assert.ok(data.items.every((it) => it.dice !== null && it.truthArea !== null));
      assert.equal(data.items.find((it) => it.id === "1_14")!.truthArea, 7194); // from the sample's README
      const png = await fetch(`${v.url}img/1_14.png?layer=heat&size=half`);
      assert.equal(png.status, 200);
      assert.deepEqual([decodePngRgb(Buffer.from(await png.arrayBuffer())).width], [290]);
    } finally {
      await v.close();
    }
  },
);

test("the viewer stays on loopback unless told: another address needs allowRemote, and the Host check stays on", async () => {
  for (const host of ["", "0.0.0.0", "192.0.2.1"])
    await assert.rejects(
      startViewer({ images: folder.images, port: 0, host }),
      (e: Error) => e instanceof UserError && /--allow-remote to mean it/.test(e.message),
      JSON.stringify(host),
    );
  // Every spelling of loopback is loopback, and keeps the DNS-rebinding check (a foreign Host is refused).
  for (const host of ["127.1", "127.0.0.2", "localhost"]) {
    assert.ok(isLoopback(host), host);
    const v = await startViewer({ images: folder.images, port: 0, host });
    try {
      const port = new URL(v.url).port;
      assert.equal((await rawGet(v.url, "/api/images", `evil.example:${port}`)).status, 403, host);
      assert.equal(
        (await rawGet(v.url, "/api/images", `${host === "127.1" ? "127.0.0.1" : host}:${port}`)).status,
        200,
        host,
      );
    } finally {
      await v.close();
    }
  }
  assert.ok(!isLoopback("10.0.0.1") && !isLoopback("") && !isLoopback("127.evil.example"));
  // Every interface, allowed: the machine's addresses and the names given pass; any other Host does not.
  const v = await startViewer({
    images: folder.images,
    port: 0,
    host: "",
    allowRemote: true,
    allowedHosts: ["viewer.lan"],
  });
  try {
    const port = new URL(v.url).port;
    const at = (host: string) => rawGet(`http://127.0.0.1:${port}/`, "/api/images", `${host}:${port}`);
    assert.equal((await at("127.0.0.1")).status, 200);
    assert.equal((await at("viewer.lan")).status, 200);
    assert.equal((await at("evil.example")).status, 403);
  } finally {
    await v.close();
  }
  const hosts = allowedHostNames("0.0.0.0", ["Viewer.LAN"]);
  assert.ok(hosts.has("viewer.lan") && hosts.has("localhost") && hosts.has("127.0.0.1"));
  assert.deepEqual([...allowedHostNames("10.1.2.3")], ["10.1.2.3"]);
});
