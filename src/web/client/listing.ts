/**
 * The grid: fetches a listing page for the view in `state` and shows it as cards (thumbnail with both
 * contours, presence, areas, Dice), with the summary and pager in the header. Text goes in through
 * textContent only. An answer that arrives after a newer request is dropped.
 */
import { $, button, select } from "./dom.js";
import { state, syncControls, type ImageEntry, type Listing } from "./state.js";

let loadSeq = 0; // the newest listing request: older answers are dropped

export const fmt = (v: number | null, d: number): string => (v === null ? "–" : v.toFixed(d));
// Orange (poor) to blue (good): the overlay pair, readable without telling red from green.
const hue = (d: number | null): string =>
  d === null ? "var(--dim)" : "hsl(" + Math.round(35 + d * 170) + ", 80%, 62%)";

export function busy(on: boolean, text?: string): void {
  $("grid").classList.toggle("busy", on);
  $("grid").setAttribute("aria-busy", String(on));
  $("status").textContent = text ?? (on ? "loading…" : "");
}

/** Fetches and shows the listing; with `around`, the page holding that frame. Returns the answer, or null. */
export async function load(around?: string | null): Promise<Listing | null> {
  const seq = ++loadSeq;
  busy(true);
  const q = new URLSearchParams({
    sort: state.sort,
    order: state.order,
    filter: state.filter,
    offset: String(state.offset),
    limit: String(state.limit),
  });
  if (around) q.set("around", around);
  let data: Listing;
  try {
    const r = await fetch("/api/images?" + q.toString());
    if (!r.ok) throw new Error(await r.text());
    data = (await r.json()) as Listing;
  } catch (e) {
    if (seq === loadSeq) busy(false, "error: " + (e instanceof Error ? e.message : String(e)));
    return null;
  }
  if (seq !== loadSeq) return null;
  if (fallBack(data)) return load(around);
  // A page past the end (an old link) shows the last page.
  if (data.total > 0 && data.offset >= data.total) {
    state.offset = Math.floor((data.total - 1) / state.limit) * state.limit;
    return load(around);
  }
  state.offset = data.offset;
  state.total = data.total;
  state.items = data.items;
  state.hasProbs = data.hasProbs;
  render(data);
  busy(false);
  return data;
}

/**
 * Disables the views the data cannot give (Dice and the error filters need truth and predictions, frames
 * with a target need truth); if the current view is one of them, moves to one it can give and says so.
 */
function fallBack(data: Listing): boolean {
  const canDice = data.hasTruth && data.hasPreds;
  const usable = new Map<string, boolean>([
    ["all", true],
    ["target", data.hasTruth],
    ["fp", canDice],
    ["fn", canDice],
  ]);
  for (const o of select("filter").options) o.disabled = !usable.get(o.value);
  for (const o of select("sort").options) if (o.value === "dice") o.disabled = !canDice;
  const badSort = state.sort === "dice" && !canDice;
  const badFilter = !usable.get(state.filter);
  if (!badSort && !badFilter) return false;
  if (badSort) state.sort = "id";
  if (badFilter) state.filter = "all";
  syncControls();
  return true;
}

function render(data: Listing): void {
  const parts = [data.total + (data.total === data.frames ? " frames" : " of " + data.frames + " frames")];
  if (data.meanDice !== null) parts.push("mean Dice " + data.meanDice.toFixed(4));
  if (data.model) parts.push("model " + data.model + (data.tta ? " (TTA)" : ""));
  if (data.hasProbs) {
    const p = data.params;
    parts.push(
      "pixel > " + p.pixelThreshold + ", presence ≥ " + p.presenceThreshold + ", min area " + p.minArea,
    );
  }
  $("summary").textContent = parts.join(" · ");
  const pages = Math.max(1, Math.ceil(state.total / state.limit));
  $("page").textContent = " page " + (Math.floor(state.offset / state.limit) + 1) + " / " + pages + " ";
  button("prev").disabled = state.offset === 0;
  button("next").disabled = state.offset + state.limit >= state.total;
  const grid = $("grid");
  grid.replaceChildren();
  if (state.items.length === 0) {
    const p = document.createElement("p");
    p.className = "empty";
    p.textContent = "no frames to show";
    grid.append(p);
  }
  for (const it of state.items) grid.append(card(it));
}

/** One frame's card; opening it is the grid's listener's job (see viewer.ts), by the card's data-id. */
function card(it: ImageEntry): HTMLElement {
  const card = document.createElement("div");
  card.className = "card";
  card.tabIndex = 0;
  card.setAttribute("role", "button");
  card.dataset.id = it.id;
  card.setAttribute(
    "aria-label",
    "frame " + it.id + (it.dice === null ? "" : ", Dice " + it.dice.toFixed(3)),
  );
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
  nums.textContent =
    "p " + fmt(it.presence, 2) + " · pred " + (it.predArea ?? "–") + " · true " + (it.truthArea ?? "–");
  const dice = document.createElement("span");
  dice.className = "dice";
  dice.style.color = hue(it.dice); // a CSSOM property, which the CSP's style-src allows (no style attribute)
  dice.textContent = it.dice === null ? "" : "Dice " + it.dice.toFixed(3);
  meta.append(id, nums, dice);
  card.append(img, meta);
  return card;
}
