/**
 * The viewer's single page: a grid of thumbnails (truth contour green, prediction red) with presence,
 * areas and Dice, sortable and paginated from /api/images; clicking a frame opens it large beside its
 * probability heat-map. Plain DOM, no framework; text goes in through textContent only.
 */
export function viewerPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>nerveseg viewer</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  :root { --bg: #15171a; --panel: #1f2227; --text: #e4e6ea; --dim: #9aa0a8; --good: #3ecf6e; --bad: #ff5a4f; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--text); }
  header { position: sticky; top: 0; z-index: 2; display: flex; flex-wrap: wrap; gap: 12px; align-items: center;
    padding: 10px 16px; background: var(--panel); border-bottom: 1px solid #333; }
  header h1 { font-size: 16px; margin: 0 12px 0 0; }
  header label { color: var(--dim); }
  select, button { background: #2b2f36; color: var(--text); border: 1px solid #444; border-radius: 4px; padding: 4px 8px; }
  button:disabled { opacity: 0.4; }
  #summary { color: var(--dim); margin-left: auto; }
  .legend span { display: inline-block; width: 12px; height: 3px; margin: 0 4px 3px 8px; vertical-align: middle; }
  main { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; padding: 16px; }
  .card { background: var(--panel); border-radius: 6px; overflow: hidden; cursor: pointer; border: 1px solid transparent; }
  .card:hover { border-color: #666; }
  .card img { width: 100%; aspect-ratio: 580 / 420; display: block; background: #000; }
  .meta { display: flex; justify-content: space-between; padding: 6px 8px; gap: 8px; }
  .id { font-weight: 600; }
  .num { color: var(--dim); font-size: 12px; font-variant-numeric: tabular-nums; }
  .dice { font-weight: 600; font-variant-numeric: tabular-nums; white-space: nowrap; }
  #modal { display: none; position: fixed; inset: 0; z-index: 5; background: rgba(0,0,0,0.85); padding: 24px; overflow: auto; }
  #modal.open { display: block; }
  #modal .row { display: flex; flex-wrap: wrap; gap: 16px; justify-content: center; }
  #modal figure { margin: 0; }
  #modal img { max-width: min(46vw, 870px); width: 100%; image-rendering: auto; border-radius: 4px; }
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
  <label>per page <select id="limit"><option>12</option><option selected>24</option><option>48</option><option>96</option></select></label>
  <button id="prev">&larr; prev</button><span id="page"></span><button id="next">next &rarr;</button>
  <span class="legend"><span style="background:#0f0"></span>truth<span style="background:#f00"></span>prediction</span>
  <span id="summary"></span>
</header>
<main id="grid"></main>
<div id="modal"><h2 id="mtitle"></h2><div class="row">
  <figure><img id="mover" alt="overlay"><figcaption>frame with truth (green) and prediction (red)</figcaption></figure>
  <figure><img id="mheat" alt="probability heat-map"><figcaption>probability heat-map (blue 0 → red 1), prediction outlined white</figcaption></figure>
</div><div class="hint">&larr; / &rarr; previous / next frame &middot; Esc or click to close</div></div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const state = { sort: "dice", order: "asc", offset: 0, limit: 24, total: 0, items: [], open: -1 };
const fmt = (v, d) => (v === null ? "–" : v.toFixed(d));
const hue = (d) => (d === null ? "var(--dim)" : "hsl(" + Math.round(d * 120) + ", 75%, 55%)");

async function load() {
  const q = new URLSearchParams({ sort: state.sort, order: state.order, offset: state.offset, limit: state.limit });
  const r = await fetch("/api/images?" + q);
  if (!r.ok) { $("summary").textContent = "error: " + (await r.text()); return; }
  const data = await r.json();
  state.total = data.total;
  state.items = data.items;
  // Without both truth and predictions there is no Dice to sort by: fall back to ids.
  if (state.sort === "dice" && !(data.hasTruth && data.hasPreds)) { state.sort = "id"; $("sort").value = "id"; return load(); }
  const parts = [data.total + " frames"];
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
  state.items.forEach((it, k) => {
    const card = document.createElement("div");
    card.className = "card";
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
    grid.append(card);
  });
}

function openAt(k) {
  if (k < 0 || k >= state.items.length) return;
  state.open = k;
  show(state.items[k]);
}
function show(it) {
  const id = encodeURIComponent(it.id);
  history.replaceState(null, "", "#frame=" + id);
  $("mover").src = "/img/" + id + ".png?layer=overlay";
  $("mheat").src = "/img/" + id + ".png?layer=heat";
  $("mtitle").textContent = it.id + " — presence " + fmt(it.presence, 3) + ", predicted " + (it.predArea ?? "–") +
    " px, true " + (it.truthArea ?? "–") + " px" + (it.dice === null ? "" : ", Dice " + it.dice.toFixed(4));
  $("modal").classList.add("open");
}
function closeModal() {
  $("modal").classList.remove("open");
  state.open = -1;
  history.replaceState(null, "", location.pathname);
}
// A link to one frame (#frame=<id>) opens it directly, wherever it sits in the listing.
async function openFromHash() {
  const m = /^#frame=(.+)$/.exec(location.hash);
  if (!m) return;
  const id = decodeURIComponent(m[1]);
  const k = state.items.findIndex((it) => it.id === id);
  if (k >= 0) return openAt(k);
  const r = await fetch("/api/images?limit=10000");
  const it = r.ok ? (await r.json()).items.find((x) => x.id === id) : undefined;
  if (it) show(it);
}

$("modal").addEventListener("click", closeModal);
document.addEventListener("keydown", (e) => {
  if (state.open < 0) return;
  if (e.key === "Escape") closeModal();
  if (e.key === "ArrowRight") openAt(state.open + 1);
  if (e.key === "ArrowLeft") openAt(state.open - 1);
});
for (const key of ["sort", "order", "limit"]) {
  $(key).addEventListener("change", () => {
    state[key] = key === "limit" ? Number($(key).value) : $(key).value;
    state.offset = 0;
    load();
  });
}
$("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - state.limit); load(); });
$("next").addEventListener("click", () => { state.offset += state.limit; load(); });
load().then(openFromHash);
</script>
</body>
</html>
`;
}
