// The viewer page in a real browser (Debian's chromium driven by playwright-core): mouse, keyboard
// (←/→ across a page edge, Esc, Tab to a card and Enter), a deep link to a frame on page 2, sort, filter
// and page kept in the URL through a reload and Back, fast flipping, and no console errors. Skips with a
// message where /usr/bin/chromium is absent (scripts/install.sh installs it).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import { needsChromium, openBrowser, type Browser } from "../helpers/browser.js";
import { KAGGLE_HEIGHT, KAGGLE_WIDTH } from "../../src/io/image.js";
import { writeTiff } from "../../src/io/tiff.js";
import { writePredictions } from "../../src/predict/prediction-store.js";
import { startViewer, type ImageEntry, type RunningViewer } from "../../src/web/server.js";
import { tempDir } from "../helpers/sample.js";
import { FAKE_H, FAKE_W, fakeProb } from "./fake-preds.js";

const skip = needsChromium;

const W = KAGGLE_WIDTH;
const H = KAGGLE_HEIGHT;
const N = 26; // three pages of 12

/**
 * 26 frames: two in three have a nerve (an ellipse); predictions are blurred truth, some shifted, every
 * fifth nerve missed (false negatives), and every other empty frame gets a false blob (false positives).
 */
function makeSet(): { images: string; preds: string } {
  const root = tempDir("nerveseg-browser-");
  const images = path.join(root, "frames");
  fs.mkdirSync(images);
  const ids: string[] = [];
  const probs: Uint8Array[] = [];
  const presence: number[] = [];
  for (let k = 1; k <= N; k++) {
    const id = `7_${k}`;
    const nerve = k % 3 !== 0;
    const img = new Uint8Array(W * H);
    const mask = new Uint8Array(W * H);
    const cx = 120 + 13 * k;
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const inside = nerve && ((x - cx) / 48) ** 2 + ((y - 200) / 30) ** 2 <= 1;
        img[y * W + x] = inside ? 190 : (x * 3 + y * 5 + k * 11) % 110;
        if (inside) mask[y * W + x] = 255;
      }
    writeTiff(path.join(images, `${id}.tif`), { width: W, height: H, data: img });
    writeTiff(path.join(images, `${id}_mask.tif`), { width: W, height: H, data: mask });
    const variant = nerve ? (k % 5 === 0 ? 3 : k % 2) : k % 2 === 0 ? 2 : 0;
    ids.push(id);
    probs.push(fakeProb(mask, variant));
    presence.push(variant === 3 ? 0.2 : nerve || variant === 2 ? 0.9 : 0.1);
  }
  const preds = path.join(root, "preds");
  writePredictions(preds, { ids, presence, probs, height: FAKE_H, width: FAKE_W, model: "fake", tta: false });
  return { images, preds };
}

let set: ReturnType<typeof makeSet>;
let viewer: RunningViewer;
let context: BrowserContext;
let page: Page;
let browser: Browser;

before(async () => {
  if (skip) return;
  set = makeSet();
  viewer = await startViewer({ images: set.images, preds: set.preds, truth: set.images, port: 0 });
  browser = await openBrowser();
  ({ context, page } = browser);
});

after(async () => {
  await context?.close();
  await viewer?.close();
});

/** The server's listing for a view (what the page must show). */
async function listing(q: string): Promise<ImageEntry[]> {
  const r = await fetch(`${viewer.url}api/images?limit=1000&${q}`);
  return ((await r.json()) as { items: ImageEntry[] }).items;
}

const js = <T>(expr: string): Promise<T> => browser.js<T>(expr);
const cardIds = () => js<string[]>(`[...document.querySelectorAll(".card")].map((c) => c.dataset.id)`);
const query = () => Object.fromEntries(new URL(page.url()).searchParams);

const until = (expr: string, timeoutMs?: number): Promise<void> => browser.until(expr, timeoutMs);

/** Waits until the modal shows `id` with its pictures loaded, and the URL names it. */
async function shows(id: string): Promise<void> {
  const want = JSON.stringify(id);
  await until(
    `(() => { const m = document.getElementById("modal"); ` +
      `return m.classList.contains("open") && m.dataset.frame === ${want} && m.dataset.loaded === ${want}; })()`,
  );
  assert.equal(query().frame, id);
}
async function closed(): Promise<void> {
  await until(`!document.getElementById("modal").classList.contains("open")`);
  assert.equal(query().frame, undefined);
}
async function grid(ids: string[]): Promise<void> {
  await until(
    `JSON.stringify([...document.querySelectorAll(".card")].map((c) => c.dataset.id)) === ${JSON.stringify(JSON.stringify(ids))}`,
  );
}

test(
  "the viewer in chromium: clicks, keys across page edges, deep links, URL state, filters",
  { skip },
  async () => {
    const byId = await listing("sort=id&order=asc");
    assert.equal(byId.length, N);
    const ids = byId.map((it) => it.id);

    // Click a card; → on the last card of page 1 goes on to page 2, ← comes back.
    await page.goto(`${viewer.url}?sort=id&order=asc&limit=12`);
    await grid(ids.slice(0, 12));
    assert.deepEqual(query(), { sort: "id", order: "asc", filter: "all", limit: "12", page: "1" });
    await page.click(`.card[data-id="${ids[10]}"]`);
    await shows(ids[10]);
    await page.keyboard.press("ArrowRight");
    await shows(ids[11]);
    await page.keyboard.press("ArrowRight");
    await shows(ids[12]);
    await grid(ids.slice(12, 24));
    assert.equal(query().page, "2");
    assert.match((await page.textContent("#page")) ?? "", /page 2 \/ 3/);
    await page.keyboard.press("ArrowLeft");
    await shows(ids[11]);
    assert.equal(query().page, "1");
    await page.keyboard.press("Escape");
    await closed();
    // Focus goes back to the card that was open.
    assert.equal(await js(`document.activeElement.dataset.id`), ids[11]);

    // Keyboard only: Tab from the "next" button reaches the first card; Enter opens it.
    await page.focus("#next");
    await page.keyboard.press("Tab");
    assert.equal(await js(`document.activeElement.dataset.id`), ids[0]);
    await page.keyboard.press("Tab");
    assert.equal(await js(`document.activeElement.dataset.id`), ids[1]);
    await page.keyboard.press("Enter");
    await shows(ids[1]);
    await page.keyboard.press("Escape");
    await closed();

    // A deep link to a frame on page 2: it opens there, and ←/→ and Esc work.
    await page.goto(`${viewer.url}?sort=id&order=asc&limit=12&frame=${ids[15]}`);
    await shows(ids[15]);
    await grid(ids.slice(12, 24));
    assert.equal(query().page, "2");
    await page.keyboard.press("ArrowRight");
    await shows(ids[16]);
    await page.keyboard.press("ArrowLeft");
    await page.keyboard.press("ArrowLeft");
    await shows(ids[14]);
    await page.keyboard.press("Escape");
    await closed();
    assert.equal(query().page, "2");
    // The older link form (#frame=) still opens its frame, on its page.
    await page.goto(`${viewer.url}#frame=${ids[25]}`);
    await shows(ids[25]);
    await page.keyboard.press("Escape");
    await closed();

    // Flipping fast: the frame shown at the end is the last one asked for, with its own pictures.
    await page.goto(`${viewer.url}?sort=id&order=asc&limit=12`);
    await grid(ids.slice(0, 12));
    await page.click(`.card[data-id="${ids[0]}"]`);
    for (let i = 0; i < 6; i++) await page.keyboard.press("ArrowRight");
    await shows(ids[6]);
    const src = await js<string>(`document.getElementById("mover").src`);
    assert.match(src, new RegExp(`/img/${ids[6]}\\.png\\?layer=overlay$`));
    assert.equal(await js(`document.querySelectorAll("#mover").length`), 1);
    await page.keyboard.press("Escape");
    await closed();

    // Sort, order, filter and page through the controls; they survive a reload, and Back steps back.
    await page.selectOption("#sort", "dice");
    await page.selectOption("#order", "desc");
    await page.selectOption("#filter", "target");
    const target = await listing("sort=dice&order=desc&filter=target");
    assert.ok(target.length > 12 && target.every((it) => it.truthArea! > 0));
    await grid(target.slice(0, 12).map((it) => it.id));
    await page.click("#next");
    await grid(target.slice(12, 24).map((it) => it.id));
    assert.deepEqual(query(), { sort: "dice", order: "desc", filter: "target", limit: "12", page: "2" });
    await page.reload();
    await grid(target.slice(12, 24).map((it) => it.id));
    assert.deepEqual(
      await js(`["sort", "order", "filter", "limit"].map((k) => document.getElementById(k).value)`),
      ["dice", "desc", "target", "12"],
    );
    await page.goBack();
    await grid(target.slice(0, 12).map((it) => it.id));
    assert.equal(query().page, "1");

    // Dice, descending, over all frames: the empty-and-empty frames (Dice 1 by convention) come last.
    await page.selectOption("#filter", "all");
    const all = await listing("sort=dice&order=desc");
    await grid(all.slice(0, 12).map((it) => it.id));
    const first = all[0];
    assert.ok(first.truthArea! > 0 && first.dice! < 1, `first: ${JSON.stringify(first)}`);
    const bothEmpty = (it: ImageEntry) => it.truthArea === 0 && it.predArea === 0;
    const tn = all.filter(bothEmpty).length;
    assert.ok(tn >= 3 && all.slice(-tn).every(bothEmpty), "the both-empty frames are the last ones");

    // False positives and false negatives.
    await page.selectOption("#filter", "fp");
    const fp = await listing("sort=dice&order=desc&filter=fp");
    assert.ok(fp.length > 0 && fp.every((it) => it.truthArea === 0 && it.predArea! > 0));
    await grid(fp.map((it) => it.id));
    await page.selectOption("#filter", "fn");
    const fn = await listing("sort=dice&order=desc&filter=fn");
    assert.ok(fn.length > 0 && fn.every((it) => it.truthArea! > 0 && it.predArea === 0));
    await grid(fn.map((it) => it.id));
    assert.deepEqual(
      await cardIds(),
      fn.map((it) => it.id),
    );

    assert.deepEqual(browser.problems, []);
  },
);

test(
  "in chromium, without truth or predictions: a link sorted by Dice shows the frames by id, Dice and the filters off",
  { skip },
  async () => {
    const bare = await startViewer({ images: set.images, port: 0 });
    try {
      await page.goto(`${bare.url}?sort=dice&order=desc&limit=12&page=2`);
      const r = await fetch(`${bare.url}api/images?sort=id&order=desc&offset=12&limit=12`);
      await grid(((await r.json()) as { items: ImageEntry[] }).items.map((it) => it.id));
      await until(`new URL(location.href).searchParams.get("sort") === "id"`);
      assert.deepEqual(query(), { sort: "id", order: "desc", filter: "all", limit: "12", page: "2" });
      assert.deepEqual(
        await js(`["sort", "order", "filter", "limit"].map((k) => document.getElementById(k).value)`),
        ["id", "desc", "all", "12"],
      );
      assert.deepEqual(await js(`[...document.querySelectorAll("option:disabled")].map((o) => o.value)`), [
        "dice",
        "target",
        "fp",
        "fn",
      ]);
      assert.deepEqual(browser.problems, []);
    } finally {
      await bare.close();
    }
  },
);
