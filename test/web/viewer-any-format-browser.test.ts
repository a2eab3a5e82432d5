// The viewer in a real browser (Debian's chromium driven by playwright-core) on a PNG data set: images of
// their own sizes in images/ + masks/, predictions as `nerveseg predict` writes them for files. The page
// shows each image with its truth (blue) and its prediction (orange) and the Dice of each. Skips with a
// message where /usr/bin/chromium is absent (scripts/install.sh installs it).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { encodeRle } from "../../src/io/rle.js";
import { PRED_COLOR, TRUTH_COLOR } from "../../src/report/overlay.js";
import { startViewer, type ImageEntry, type RunningViewer } from "../../src/web/server.js";
import { frame, rectMask, writeGrey } from "../helpers/images.js";
import { tempDir } from "../helpers/sample.js";

const CHROMIUM = "/usr/bin/chromium";
const skip = fs.existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} not found: the viewer's browser test needs Debian's chromium (apt-get install chromium, as scripts/install.sh does)`;

/** Three PNG frames of different sizes with rectangle masks (x0, y0, x1, y1); predictions shifted. */
const FRAMES = [
  { id: "case1_a", w: 120, h: 90, t: [30, 20, 80, 60], p: [36, 24, 86, 64] },
  { id: "case1_b", w: 100, h: 100, t: [20, 20, 60, 70], p: [20, 20, 60, 70] },
  { id: "case2_a", w: 160, h: 80, t: [50, 10, 110, 50], p: [70, 20, 130, 60] },
] as const;

async function makeSet(): Promise<{ data: string; preds: string }> {
  const data = tempDir("nerveseg-browser-png-");
  const preds = path.join(data, "..", `${path.basename(data)}-pred`);
  let csv = "id,file,width,height,presence,area_px,pixels\n";
  for (const f of FRAMES) {
    // Dark frames: no grey pixel can pass for a contour colour.
    await writeGrey(
      path.join(data, "images", `${f.id}.png`),
      f.w,
      f.h,
      frame(f.w, f.h, f.w).map((v) => v >> 2),
    );
    await writeGrey(
      path.join(data, "masks", `${f.id}.png`),
      f.w,
      f.h,
      rectMask(f.w, f.h, f.t[0], f.t[1], f.t[2], f.t[3]),
    );
    const pred = rectMask(f.w, f.h, f.p[0], f.p[1], f.p[2], f.p[3]);
    await writeGrey(path.join(preds, "masks", `${f.id}.png`), f.w, f.h, pred);
    const area = pred.reduce((a, v) => a + (v ? 1 : 0), 0);
    csv += `${f.id},${f.id}.png,${f.w},${f.h},0.9,${area},${encodeRle(pred, f.w, f.h)}\n`;
  }
  fs.writeFileSync(path.join(preds, "predictions.csv"), csv);
  return { data, preds };
}

let viewer: RunningViewer;
let context: BrowserContext;
let page: Page;
const problems: string[] = [];

before(async () => {
  if (skip) return;
  const set = await makeSet();
  viewer = await startViewer({ data: set.data, preds: set.preds, port: 0 });
  context = await chromium.launchPersistentContext(tempDir("nerveseg-chromium-"), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1280, height: 900 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(10_000);
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
});

after(async () => {
  await context?.close();
  await viewer?.close();
});

const js = <T>(expr: string): Promise<T> => page.evaluate(expr) as Promise<T>;

/** Waits until a page expression is truthy (polled through DevTools: the page's CSP forbids eval). */
async function until(expr: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await js<boolean>(expr)) return;
    } catch {
      // a context torn down by a navigation: try again
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${expr}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The picture an <img> shows, as the browser decoded it: its size and its pixels of the two contour colours. */
function colours(selector: string): Promise<{ width: number; height: number; truth: number; pred: number }> {
  const [t, p] = [JSON.stringify(TRUTH_COLOR), JSON.stringify(PRED_COLOR)];
  return js(`(() => {
    const img = document.querySelector(${JSON.stringify(selector)});
    const c = document.createElement("canvas");
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    const g = c.getContext("2d");
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    const is = (i, rgb) => d[i] === rgb[0] && d[i + 1] === rgb[1] && d[i + 2] === rgb[2];
    let truth = 0, pred = 0;
    for (let i = 0; i < d.length; i += 4) { if (is(i, ${t})) truth++; if (is(i, ${p})) pred++; }
    return { width: c.width, height: c.height, truth, pred };
  })()`);
}

test(
  "in chromium, a PNG data set: each image with its truth, its prediction and its Dice",
  { skip },
  async () => {
    const r = await fetch(`${viewer.url}api/images?sort=id&limit=100`);
    const items = ((await r.json()) as { items: ImageEntry[] }).items;
    assert.deepEqual(
      items.map((it) => it.id),
      FRAMES.map((f) => f.id),
    );
    assert.ok(items.every((it) => it.dice !== null && it.truthArea! > 0 && it.predArea! > 0));

    await page.goto(`${viewer.url}?sort=id&order=asc`);
    await until(`document.querySelectorAll(".card").length === ${FRAMES.length}`);
    // Every card: the thumbnail (half the image's own size) and the Dice the server computed.
    await until(`[...document.querySelectorAll(".card img")].every((i) => i.complete && i.naturalWidth > 0)`);
    for (const [k, f] of FRAMES.entries()) {
      const card = `.card[data-id="${f.id}"]`;
      assert.equal(await page.textContent(`${card} .dice`), `Dice ${items[k].dice!.toFixed(3)}`);
      const thumb = await colours(`${card} img`);
      assert.deepEqual([thumb.width, thumb.height], [f.w / 2, f.h / 2]);
      assert.ok(thumb.truth > 0 && thumb.pred > 0, `${f.id}: ${JSON.stringify(thumb)}`);
    }
    assert.match((await page.textContent("#summary")) ?? "", /3 frames · mean Dice 0\.\d{4}/);

    // Opened large: the image at its own size with both contours, the Dice in the title, the plain image
    // beside it (these predictions are masks: no heat-map to show).
    const f = FRAMES[2];
    await page.click(`.card[data-id="${f.id}"]`);
    await until(`document.getElementById("modal").dataset.loaded === ${JSON.stringify(f.id)}`);
    const big = await colours("#mover");
    assert.deepEqual([big.width, big.height], [f.w, f.h]);
    assert.ok(big.truth > 100 && big.pred > 100, JSON.stringify(big));
    assert.match(
      (await page.textContent("#mtitle")) ?? "",
      new RegExp(`^${f.id} .*Dice ${items[2].dice!.toFixed(4)}$`),
    );
    assert.match((await js<string>(`document.getElementById("mheat").src`)) ?? "", /layer=image$/);
    const plain = await colours("#mheat");
    assert.deepEqual([plain.width, plain.truth, plain.pred], [f.w, 0, 0]);
    assert.equal(await page.textContent("#mheatcap"), "the image alone");
    await page.keyboard.press("Escape");
    await until(`!document.getElementById("modal").classList.contains("open")`);
    assert.deepEqual(problems, []);
  },
);
