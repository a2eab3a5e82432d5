// The viewer's JSON API as the server answers it and the page reads it (types only, no code): the one
// contract between src/web/server.ts and the page script, the only client file the server may import.

/** One frame's row (null where there is no prediction or no truth). */
export interface ImageEntry {
  id: string;
  presence: number | null;
  predArea: number | null;
  truthArea: number | null;
  dice: number | null;
}

/** An /api/images answer (the fields the page reads). */
export interface Listing {
  total: number;
  frames: number;
  offset: number;
  /** Where the `around` frame is in the whole sorted listing (-1: left out); null without `around`. */
  position: number | null;
  hasPreds: boolean;
  hasTruth: boolean;
  /** Whether the predictions carry probabilities (a heat-map to show), or are masks only. */
  hasProbs: boolean;
  meanDice: number | null;
  params: { pixelThreshold: number; presenceThreshold: number; minArea: number };
  model: string | null;
  tta: boolean | null;
  items: ImageEntry[];
}
