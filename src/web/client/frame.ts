/**
 * The open frame: its overlay and probability heat-map (the plain frame when the predictions are masks)
 * large in a dialog, at the frame's own size, stepping to the previous or next frame across page edges. The pictures of a frame flipped past are dropped; meanwhile the old ones are
 * dimmed under "loading…".
 */
import { $ } from "./dom.js";
import { fmt, load } from "./listing.js";
import { state, writeUrl, type ImageEntry } from "./state.js";

let showSeq = 0; // the newest frame shown: pictures of frames flipped past are dropped
let stepping = false;

export function openAt(k: number): void {
  if (k < 0 || k >= state.items.length) return;
  state.open = k;
  show(state.items[k]);
  writeUrl(false);
}

/** Shows a frame's pictures once they have loaded; meanwhile the old ones are dimmed under "loading…". */
function show(it: ImageEntry): void {
  const seq = ++showSeq;
  const id = encodeURIComponent(it.id);
  const modal = $("modal");
  const dice = it.dice === null ? "" : ", Dice " + it.dice.toFixed(4);
  const areas = `predicted ${it.predArea ?? "–"} px, true ${it.truthArea ?? "–"} px`;
  $("mtitle").textContent = `${it.id} — presence ${fmt(it.presence, 3)}, ${areas}${dice}`;
  $("mstatus").textContent = "loading…";
  modal.classList.add("open", "loading");
  modal.dataset.frame = it.id;
  delete modal.dataset.loaded;
  if (document.activeElement !== modal) modal.focus();
  let pending = 2;
  // Predictions given as masks have no probabilities: the second picture is then the plain frame.
  const second = state.hasProbs ? (["heat", "probability heat-map"] as const) : (["image", "image"] as const);
  $("mheatcap").textContent = state.hasProbs
    ? "probability heat-map (blue 0 → red 1), prediction outlined white"
    : "the image alone";
  const layers = [
    ["mover", "overlay", "overlay"],
    ["mheat", ...second],
  ] as const;
  for (const [el, layer, alt] of layers) {
    const img = new Image();
    img.alt = alt + " of " + it.id;
    img.onload = () => {
      if (seq !== showSeq) return; // a newer frame was asked for meanwhile
      img.id = el;
      $(el).replaceWith(img);
      if (--pending === 0) {
        modal.classList.remove("loading");
        modal.dataset.loaded = it.id;
      }
    };
    img.onerror = () => {
      if (seq !== showSeq) return;
      $("mstatus").textContent = "could not load " + it.id;
    };
    img.src = "/img/" + id + ".png?layer=" + layer;
  }
}

export const isOpen = (): boolean => $("modal").classList.contains("open");

/** Hides the dialog and drops the pictures still on their way. */
export function hide(): void {
  showSeq++;
  $("modal").classList.remove("open", "loading");
}

/** Closes the frame, puts it out of the URL and gives the focus back to its card. */
export function closeModal(): void {
  if (state.open < 0 && !isOpen()) return;
  const id = state.open >= 0 ? state.items[state.open].id : null;
  hide();
  state.open = -1;
  writeUrl(false);
  const card = [...document.querySelectorAll(".card")].find(
    (c): c is HTMLElement => c instanceof HTMLElement && id !== null && c.dataset.id === id,
  );
  if (card) card.focus();
}

/** The next (d = 1) or previous (d = -1) frame, loading the neighbouring page at a page edge. */
export async function step(d: 1 | -1): Promise<void> {
  if (state.open < 0 || stepping) return;
  const k = state.open + d;
  if (k >= 0 && k < state.items.length) {
    openAt(k);
    return;
  }
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
