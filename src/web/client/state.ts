/**
 * The view the page shows and the URL holds (sort, order, filter, page size, page, open frame), with the
 * listing page on screen; one object shared by the page's modules. Also the shape of /api/images answers:
 * the page script cannot import the server's types (it is built apart, for the browser).
 */
import type { ImageEntry } from "./api.js";
export type { ImageEntry, Listing } from "./api.js";

import { select } from "./dom.js";

export const SORTS = ["dice", "id", "presence", "predArea", "truthArea"] as const;
export const ORDERS = ["asc", "desc"] as const;
export const FILTERS = ["all", "target", "fp", "fn"] as const;
export const LIMITS = [12, 24, 48, 96] as const;
/** The header's <select>s, by id, each the view field of the same name. */
export const CONTROLS = ["sort", "order", "filter", "limit"] as const;
export type Control = (typeof CONTROLS)[number];

export interface ViewState {
  sort: (typeof SORTS)[number];
  order: (typeof ORDERS)[number];
  filter: (typeof FILTERS)[number];
  limit: (typeof LIMITS)[number];
  offset: number;
  total: number;
  items: ImageEntry[];
  /** The index in `items` of the frame shown large, or -1. */
  open: number;
  /** From the listing: whether a frame's second picture is its heat-map (else the plain image). */
  hasProbs: boolean;
}

export const state: ViewState = {
  sort: "dice",
  order: "asc",
  filter: "all",
  limit: 24,
  offset: 0,
  total: 0,
  items: [],
  open: -1,
  hasProbs: false,
};

const pick = <T>(v: unknown, allowed: readonly T[], def: T): T => allowed.find((a) => a === v) ?? def;

/** Reads the view from the URL; returns the frame to open (?frame=, or the older #frame=), if any. */
export function readUrl(): string | null {
  const q = new URLSearchParams(location.search);
  state.sort = pick(q.get("sort"), SORTS, "dice");
  state.order = pick(q.get("order"), ORDERS, "asc");
  state.filter = pick(q.get("filter"), FILTERS, "all");
  state.limit = pick(Number(q.get("limit")), LIMITS, 24);
  const page = Math.max(1, Math.floor(Number(q.get("page"))) || 1);
  state.offset = (page - 1) * state.limit;
  let frame = q.get("frame");
  const h = /^#frame=(.+)$/.exec(location.hash);
  if (!frame && h) {
    try {
      frame = decodeURIComponent(h[1]);
    } catch {
      frame = null;
    }
  }
  return frame;
}

/** Puts the view in the URL: a new history entry with `push`, else in place (only when it changed). */
export function writeUrl(push: boolean): void {
  const q = new URLSearchParams({
    sort: state.sort,
    order: state.order,
    filter: state.filter,
    limit: String(state.limit),
    page: String(Math.floor(state.offset / state.limit) + 1),
  });
  if (state.open >= 0) q.set("frame", state.items[state.open].id);
  const url = location.pathname + "?" + q.toString();
  if (url === location.pathname + location.search && !location.hash) return;
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
}

export function syncControls(): void {
  for (const key of CONTROLS) select(key).value = String(state[key]);
}

/** Takes one field of the view from its control (which offers only allowed values). */
export function readControl(key: Control): void {
  const v = select(key).value;
  if (key === "sort") state.sort = pick(v, SORTS, state.sort);
  else if (key === "order") state.order = pick(v, ORDERS, state.order);
  else if (key === "filter") state.filter = pick(v, FILTERS, state.filter);
  else state.limit = pick(Number(v), LIMITS, state.limit);
}
