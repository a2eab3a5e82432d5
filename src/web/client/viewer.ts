/**
 * The viewer page's entry module: a grid of thumbnails (truth contour blue, prediction orange) with
 * presence, areas and Dice, sortable, filterable and paginated from /api/images; clicking a frame (or Tab
 * to it and Enter) opens it large beside its probability heat-map (or the plain frame), and ←/→ walk through the listing across
 * page edges. Sort, order, filter, page size, page and the open frame live in the URL (?sort=…&page=…&frame=…),
 * so a link or a reload shows the same view and Back/Forward step through views. Plain DOM, no framework.
 * The page (src/web/page.ts) loads this as a module; the server serves every module of this folder.
 */
import { $, button, select } from "./dom.js";
import { closeModal, hide, isOpen, openAt, step } from "./frame.js";
import { load } from "./listing.js";
import { CONTROLS, readControl, readUrl, state, syncControls, writeUrl, type Listing } from "./state.js";

/** Shows the view the URL names, opening its frame on the page that holds it. */
async function fromUrl(): Promise<void> {
  const frame = readUrl();
  syncControls();
  if (isOpen()) hide();
  state.open = -1;
  const data = await load(frame);
  if (data && !frame) writeUrl(false);
  if (!data || !frame) return;
  if (data.position === -1 && state.filter !== "all") {
    // The filter hides that frame: show it among all frames.
    state.filter = "all";
    syncControls();
    fromUrlFrame(frame, await load(frame));
    return;
  }
  fromUrlFrame(frame, data);
}

function fromUrlFrame(frame: string, data: Listing | null): void {
  if (!data) return;
  const k = state.items.findIndex((it) => it.id === frame);
  if (k >= 0) openAt(k);
  else {
    $("status").textContent = "no frame " + frame;
    writeUrl(false);
  }
}

/** A new view from the controls: a new history entry, then the listing (the URL follows any fallback). */
function go(): void {
  writeUrl(true);
  void load().then((data) => {
    if (data) writeUrl(false);
  });
}

/** The index in the listing of the card an event came from, or -1. */
function cardIndex(e: Event): number {
  const card = e.target instanceof Element ? e.target.closest(".card") : null;
  if (!(card instanceof HTMLElement)) return -1;
  return state.items.findIndex((it) => it.id === card.dataset.id);
}

// Cards are rebuilt with every listing: the grid listens for them.
$("grid").addEventListener("click", (e) => openAt(cardIndex(e)));
$("grid").addEventListener("keydown", (e) => {
  if (e.key !== "Enter" && e.key !== " ") return;
  const k = cardIndex(e);
  if (k < 0) return;
  e.preventDefault();
  openAt(k);
});
$("modal").addEventListener("click", closeModal);
document.addEventListener("keydown", (e) => {
  if (state.open < 0) return;
  if (e.key === "Escape") {
    e.preventDefault();
    closeModal();
  } else if (e.key === "ArrowRight") {
    e.preventDefault();
    void step(1);
  } else if (e.key === "ArrowLeft") {
    e.preventDefault();
    void step(-1);
  }
});
for (const key of CONTROLS) {
  select(key).addEventListener("change", () => {
    readControl(key);
    state.offset = 0;
    go();
  });
}
button("prev").addEventListener("click", () => {
  state.offset = Math.max(0, state.offset - state.limit);
  go();
});
button("next").addEventListener("click", () => {
  state.offset += state.limit;
  go();
});
window.addEventListener("popstate", () => void fromUrl());
void fromUrl();
