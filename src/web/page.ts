/**
 * The viewer's single page: a grid of thumbnails (truth contour blue, prediction orange) with presence,
 * areas and Dice, sortable, filterable and paginated from /api/images; clicking a frame (or Tab to it and
 * Enter) opens it large beside its probability heat-map, and ←/→ walk through the listing across page
 * edges. Sort, order, filter, page size, page and the open frame live in the URL (?sort=…&page=…&frame=…),
 * so a link or a reload shows the same view and Back/Forward step through views. Plain DOM, no framework;
 * text goes in through textContent only. Answers that arrive after a newer request (a listing, or the
 * pictures of a frame flipped past) are dropped, and both the grid and the open frame show a loading state.
 */
export function viewerPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>nerveseg viewer</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<style>
  :root { --bg: #15171a; --panel: #1f2227; --text: #e4e6ea; --dim: #9aa0a8; --truth: #0072b2; --pred: #e69f00; --focus: #56b4e9; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--text); }
  header { position: sticky; top: 0; z-index: 2; display: flex; flex-wrap: wrap; gap: 12px; align-items: center;
    padding: 10px 16px; background: var(--panel); border-bottom: 1px solid #333; }
  header h1 { font-size: 16px; margin: 0 12px 0 0; }
  header label { color: var(--dim); }
  select, button { background: #2b2f36; color: var(--text); border: 1px solid #444; border-radius: 4px; padding: 4px 8px; }
  button:disabled { opacity: 0.4; }
  #summary { color: var(--dim); margin-left: auto; }
  #status { color: var(--pred); min-width: 5em; }
  .legend span { display: inline-block; width: 14px; height: 3px; margin: 0 4px 3px 8px; vertical-align: middle; }
  main { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; padding: 16px; transition: opacity 0.15s; }
  main.busy { opacity: 0.35; }
  .card { background: var(--panel); border-radius: 6px; overflow: hidden; cursor: pointer; border: 2px solid transparent; }
  .card:hover { border-color: #666; }
  .card:focus-visible, .card:focus { outline: none; border-color: var(--focus); }
  .card img { width: 100%; aspect-ratio: 580 / 420; display: block; background: #000; }
  .meta { display: flex; justify-content: space-between; padding: 6px 8px; gap: 8px; }
  .id { font-weight: 600; }
  .num { color: var(--dim); font-size: 12px; font-variant-numeric: tabular-nums; }
  .dice { font-weight: 600; font-variant-numeric: tabular-nums; white-space: nowrap; }
  .empty { padding: 24px; color: var(--dim); }
  #modal { display: none; position: fixed; inset: 0; z-index: 5; background: rgba(0,0,0,0.85); padding: 24px; overflow: auto; }
  #modal.open { display: block; }
  #modal:focus { outline: none; }
  #modal .row { display: flex; flex-wrap: wrap; gap: 16px; justify-content: center; }
  #modal figure { margin: 0; position: relative; }
  #modal img { max-width: min(46vw, 870px); width: 100%; image-rendering: auto; border-radius: 4px; transition: opacity 0.1s; }
  #modal.loading img { opacity: 0.25; }
  #mstatus { position: absolute; inset: 0; display: none; align-items: center; justify-content: center; color: var(--text); font-size: 18px; }
  #modal.loading #mstatus { display: flex; }
  #modal figcaption { color: var(--dim); text-align: center; margin-top: 4px; }
  #modal h2 { text-align: center; margin: 0 0 12px; font-size: 18px; }
  #modal .hint { text-align: center; color: var(--dim); margin-top: 12px; }
</style>
</head>
<body>
<header>
  <h1>nerveseg viewer</h1>
  <label>sort <select id="sort">
    <option value="dice">Dice</option><option value="id">id</option><option value="presence">presence</option>
    <option value="predArea">predicted area</option><option value="truthArea">true area</option>
  </select></label>
  <label>order <select id="order"><option value="asc">ascending</option><option value="desc">descending</option></select></label>
  <label>show <select id="filter">
    <option value="all">all frames</option><option value="target">frames with a target</option>
    <option value="fp">false positives</option><option value="fn">false negatives</option>
  </select></label>
  <label>per page <select id="limit"><option>12</option><option selected>24</option><option>48</option><option>96</option></select></label>
  <button id="prev">&larr; prev</button><span id="page"></span><button id="next">next &rarr;</button>
  <span class="legend"><span style="background:var(--truth)"></span>truth<span style="background:var(--pred)"></span>prediction</span>
  <span id="status" role="status" aria-live="polite"></span>
  <span id="summary"></span>
</header>
<main id="grid" aria-busy="false"></main>
<div id="modal" role="dialog" aria-modal="true" aria-labelledby="mtitle" tabindex="-1"><h2 id="mtitle"></h2><div class="row">
  <figure><img id="mover" alt="overlay"><div id="mstatus">loading…</div><figcaption>frame with truth (blue, outside its mask) and prediction (orange, inside)</figcaption></figure>
  <figure><img id="mheat" alt="probability heat-map"><figcaption>probability heat-map (blue 0 → red 1), prediction outlined white</figcaption></figure>
</div><div class="hint">&larr; / &rarr; previous / next frame (across pages) &middot; Esc or click to close</div></div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const SORTS = ["dice", "id", "presence", "predArea", "truthArea"];
const ORDERS = ["asc", "desc"];
const FILTERS = ["all", "target", "fp", "fn"];
const LIMITS = [12, 24, 48, 96];
const state = { sort: "dice", order: "asc", filter: "all", limit: 24, offset: 0, total: 0, items: [], open: -1 };
let loadSeq = 0; // the newest listing request: older answers are dropped
let showSeq = 0; // the newest frame shown: pictures of frames flipped past are dropped
let stepping = false;
const fmt = (v, d) => (v === null ? "–" : v.toFixed(d));
// Orange (poor) to blue (good): the overlay pair, readable without telling red from green.
const hue = (d) => (d === null ? "var(--dim)" : "hsl(" + Math.round(35 + d * 170) + ", 80%, 62%)");

/** Reads the view from the URL; returns the frame to open (?frame=, or the older #frame=), if any. */
function readUrl() {
  const q = new URLSearchParams(location.search);
  const pick = (v, allowed, def) => (allowed.includes(v) ? v : def);
  state.sort = pick(q.get("sort"), SORTS, "dice");
  state.order = pick(q.get("order"), ORDERS, "asc");
  state.filter = pick(q.get("filter"), FILTERS, "all");
  state.limit = pick(Number(q.get("limit")), LIMITS, 24);
  const page = Math.max(1, Math.floor(Number(q.get("page"))) || 1);
  state.offset = (page - 1) * state.limit;
  let frame = q.get("frame");
  const h = /^#frame=(.+)$/.exec(location.hash);
  if (!frame && h) {
    try { frame = decodeURIComponent(h[1]); } catch { frame = null; }
  }
  return frame;
}
function writeUrl(push) {
  const q = new URLSearchParams({ sort: state.sort, order: state.order, filter: state.filter, limit: state.limit,
    page: Math.floor(state.offset / state.limit) + 1 });
  if (state.open >= 0) q.set("frame", state.items[state.open].id);
  const url = location.pathname + "?" + q;
  if (url !== location.pathname + location.search || location.hash) history[push ? "pushState" : "replaceState"](null, "", url);
}
function syncControls() {
  for (const key of ["sort", "order", "filter", "limit"]) $(key).value = String(state[key]);
}
function busy(on, text) {
  $("grid").classList.toggle("busy", on);
  $("grid").setAttribute("aria-busy", String(on));
  $("status").textContent = text ?? (on ? "loading…" : "");
}

/** Fetches and shows the listing; with \`around\`, the page holding that frame. Returns the answer, or null. */
async function load(around) {
  const seq = ++loadSeq;
  busy(true);
  const q = new URLSearchParams({ sort: state.sort, order: state.order, filter: state.filter, offset: state.offset, limit: state.limit });
  if (around) q.set("around", around);
  let data;
  try {
    const r = await fetch("/api/images?" + q);
    if (!r.ok) throw new Error(await r.text());
    data = await r.json();
  } catch (e) {
    if (seq === loadSeq) busy(false, "error: " + (e instanceof Error ? e.message : String(e)));
    return null;
  }
  if (seq !== loadSeq) return null;
  // A view the data cannot give (no truth or no predictions) falls back to one it can.
  const canDice = data.hasTruth && data.hasPreds;
  const needs = { all: true, target: data.hasTruth, fp: canDice, fn: canDice };
  for (const o of $("filter").options) o.disabled = !needs[o.value];
  $("sort").querySelector('option[value="dice"]').disabled = !canDice;
  if ((state.sort === "dice" && !canDice) || !needs[state.filter]) {
    if (state.sort === "dice" && !canDice) state.sort = "id";
    if (!needs[state.filter]) state.filter = "all";
    syncControls();
    return load(around);
  }
  // A page past the end (an old link) shows the last page.
  if (data.total > 0 && data.offset >= data.total) {
    state.offset = Math.floor((data.total - 1) / state.limit) * state.limit;
    return load(around);
  }
  state.offset = data.offset;
  state.total = data.total;
  state.items = data.items;
  render(data);
  busy(false);
  return data;
}

function render(data) {
  const parts = [data.total + (data.total === data.frames ? " frames" : " of " + data.frames + " frames")];
  if (data.meanDice !== null) parts.push("mean Dice " + data.meanDice.toFixed(4));
  if (data.model) parts.push("model " + data.model + (data.tta ? " (TTA)" : ""));
  if (data.hasPreds) parts.push("pixel > " + data.params.pixelThreshold + ", presence ≥ " + data.params.presenceThreshold + ", min area " + data.params.minArea);
  $("summary").textContent = parts.join(" · ");
  const pages = Math.max(1, Math.ceil(state.total / state.limit));
  $("page").textContent = " page " + (Math.floor(state.offset / state.limit) + 1) + " / " + pages + " ";
  $("prev").disabled = state.offset === 0;
  $("next").disabled = state.offset + state.limit >= state.total;
  const grid = $("grid");
  grid.replaceChildren();
  if (state.items.length === 0) {
    const p = document.createElement("p");
    p.className = "empty";
    p.textContent = "no frames to show";
    grid.append(p);
  }
  state.items.forEach((it, k) => {
    const card = document.createElement("div");
    card.className = "card";
    card.tabIndex = 0;
    card.setAttribute("role", "button");
    card.dataset.id = it.id;
    card.setAttribute("aria-label", "frame " + it.id + (it.dice === null ? "" : ", Dice " + it.dice.toFixed(3)));
    const img = document.createElement("img");
    img.loading = "lazy";
    img.alt = it.id;
    img.src = "/img/" + encodeURIComponent(it.id) + ".png?layer=overlay&size=half";
    const meta = document.createElement("div");
    meta.className = "meta";
    const id = document.createElement("span");
    id.className = "id";
    id.textContent = it.id;
    const nums = document.createElement("span");
    nums.className = "num";
    nums.textContent = "p " + fmt(it.presence, 2) + " · pred " + (it.predArea ?? "–") + " · true " + (it.truthArea ?? "–");
    const dice = document.createElement("span");
    dice.className = "dice";
    dice.style.color = hue(it.dice);
    dice.textContent = it.dice === null ? "" : "Dice " + it.dice.toFixed(3);
    meta.append(id, nums, dice);
    card.append(img, meta);
    card.addEventListener("click", () => openAt(k));
    card.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); openAt(k); }
    });
    grid.append(card);
  });
}

function openAt(k) {
  if (k < 0 || k >= state.items.length) return;
  state.open = k;
  show(state.items[k]);
  writeUrl(false);
}
/** Shows a frame's pictures once they have loaded; meanwhile the old ones are dimmed under "loading…". */
function show(it) {
  const seq = ++showSeq;
  const id = encodeURIComponent(it.id);
  const modal = $("modal");
  $("mtitle").textContent = it.id + " — presence " + fmt(it.presence, 3) + ", predicted " + (it.predArea ?? "–") +
    " px, true " + (it.truthArea ?? "–") + " px" + (it.dice === null ? "" : ", Dice " + it.dice.toFixed(4));
  $("mstatus").textContent = "loading…";
  modal.classList.add("open", "loading");
  modal.dataset.frame = it.id;
  delete modal.dataset.loaded;
  if (document.activeElement !== modal) modal.focus();
  let pending = 2;
  for (const [el, layer, alt] of [["mover", "overlay", "overlay"], ["mheat", "heat", "probability heat-map"]]) {
    const img = new Image();
    img.alt = alt + " of " + it.id;
    img.onload = () => {
      if (seq !== showSeq) return; // a newer frame was asked for meanwhile
      img.id = el;
      $(el).replaceWith(img);
      if (--pending === 0) { modal.classList.remove("loading"); modal.dataset.loaded = it.id; }
    };
    img.onerror = () => {
      if (seq !== showSeq) return;
      $("mstatus").textContent = "could not load " + it.id;
    };
    img.src = "/img/" + id + ".png?layer=" + layer;
  }
}
function closeModal() {
  if (state.open < 0 && !$("modal").classList.contains("open")) return;
  const id = state.open >= 0 ? state.items[state.open].id : null;
  showSeq++;
  $("modal").classList.remove("open", "loading");
  state.open = -1;
  writeUrl(false);
  const card = id === null ? null : [...document.querySelectorAll(".card")].find((c) => c.dataset.id === id);
  if (card) card.focus();
}
/** The next (d = 1) or previous (d = -1) frame, loading the neighbouring page at a page edge. */
async function step(d) {
  if (state.open < 0 || stepping) return;
  const k = state.open + d;
  if (k >= 0 && k < state.items.length) return openAt(k);
  const offset = state.offset + d * state.limit;
  if (offset < 0 || offset >= state.total) return; // the very first or last frame
  stepping = true;
  $("mstatus").textContent = "loading…";
  $("modal").classList.add("loading");
  state.offset = offset;
  try {
    if (await load()) openAt(d > 0 ? 0 : state.items.length - 1);
  } finally {
    stepping = false;
  }
}
/** Shows the view the URL names, opening its frame on the page that holds it. */
async function fromUrl() {
  const frame = readUrl();
  syncControls();
  if ($("modal").classList.contains("open")) { showSeq++; $("modal").classList.remove("open", "loading"); }
  state.open = -1;
  const data = await load(frame);
  if (data && !frame) writeUrl(false);
  if (!data || !frame) return;
  if (data.position === -1 && state.filter !== "all") {
    // The filter hides that frame: show it among all frames.
    state.filter = "all";
    syncControls();
    return fromUrlFrame(frame, await load(frame));
  }
  fromUrlFrame(frame, data);
}
function fromUrlFrame(frame, data) {
  if (!data) return;
  const k = state.items.findIndex((it) => it.id === frame);
  if (k >= 0) openAt(k);
  else { $("status").textContent = "no frame " + frame; writeUrl(false); }
}

$("modal").addEventListener("click", closeModal);
document.addEventListener("keydown", (e) => {
  if (state.open < 0) return;
  if (e.key === "Escape") { e.preventDefault(); closeModal(); }
  else if (e.key === "ArrowRight") { e.preventDefault(); step(1); }
  else if (e.key === "ArrowLeft") { e.preventDefault(); step(-1); }
});
for (const key of ["sort", "order", "filter", "limit"]) {
  $(key).addEventListener("change", () => {
    state[key] = key === "limit" ? Number($(key).value) : $(key).value;
    state.offset = 0;
    go();
  });
}
/** A new view from the controls: a new history entry, then the listing (the URL follows any fallback). */
function go() {
  writeUrl(true);
  load().then((data) => { if (data) writeUrl(false); });
}
$("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - state.limit); go(); });
$("next").addEventListener("click", () => { state.offset += state.limit; go(); });
window.addEventListener("popstate", fromUrl);
fromUrl();
</script>
</body>
</html>
`;
}
