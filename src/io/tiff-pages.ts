/**
 * A light walk over a classic TIFF's directory chain: how many pages it has and, per page, the few tags that
 * decide who decodes it (our own reader in tiff.ts, or sharp) and how its samples are read.
 * No pixel data is touched. For BigTIFF and broken chains it says why it stopped: sharp then decides.
 */

export interface TiffPageInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  samplesPerPixel: number;
  /** 0 WhiteIsZero, 1 BlackIsZero, 2 RGB, 3 palette, ... */
  photometric: number;
  compression: number;
  /** A reduced-resolution copy of another page (NewSubfileType bit 0): a thumbnail, not a frame. */
  reduced: boolean;
  /** Position in the directory chain (sharp's `page`). */
  index: number;
  /** Whether tiff.ts's reader handles this page (8-bit grey, strips, none/LZW, predictor 1/2, unsigned). */
  ownReader: boolean;
}

/** TIFF compressions that lose information (JPEG, old JPEG, lossy JPEG of DNG, WebP, JPEG XL). */
const LOSSY_COMPRESSIONS = new Set([6, 7, 34892, 50001, 50002]);

export function isLossyTiffCompression(compression: number): boolean {
  return LOSSY_COMPRESSIONS.has(compression);
}

const MAX_PAGES = 100_000;

/**
 * Walks the IFD chain. Returns the pages, or why the walk could not follow the chain to its end (a short
 * phrase for messages; "BigTIFF" for BigTIFF files, which the walk does not read).
 */
export function tiffPages(bytes: Uint8Array): TiffPageInfo[] | string {
  if (bytes.length < 8) return `only ${bytes.length} bytes`;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = bytes[0] === 0x49;
  const version = view.getUint16(2, le);
  if (version === 43) return "BigTIFF";
  if (version !== 42) return `version ${version}, expected 42`;
  const pages: TiffPageInfo[] = [];
  const seen = new Set<number>();
  let ifd = view.getUint32(4, le);
  while (ifd !== 0) {
    if (seen.has(ifd)) return "the directory chain loops";
    if (pages.length >= MAX_PAGES) return `more than ${MAX_PAGES} pages`;
    const past = `directory ${pages.length + 1} at offset ${ifd} runs past the end of the ${bytes.length}-byte file`;
    if (ifd + 2 > bytes.length) return past;
    seen.add(ifd);
    const n = view.getUint16(ifd, le);
    if (ifd + 2 + n * 12 + 4 > bytes.length) return past;
    const tags = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const at = ifd + 2 + i * 12;
      const tag = view.getUint16(at, le);
      const type = view.getUint16(at + 2, le);
      const count = view.getUint32(at + 4, le);
      // First value of SHORT/LONG tags, inline or not (only counts and small values are needed here).
      let value: number;
      if (type === 3) {
        const off = count <= 2 ? at + 8 : view.getUint32(at + 8, le);
        if (off + 2 > bytes.length) return `tag ${tag} points past the end of the file`;
        value = view.getUint16(off, le);
      } else if (type === 4) {
        const off = count <= 1 ? at + 8 : view.getUint32(at + 8, le);
        if (off + 4 > bytes.length) return `tag ${tag} points past the end of the file`;
        value = view.getUint32(off, le);
      } else if (type === 1) {
        value = count <= 4 ? bytes[at + 8]! : (bytes[view.getUint32(at + 8, le)] ?? 0);
      } else value = -1;
      tags.set(tag, value);
    }
    const get = (tag: number, fallback: number): number => tags.get(tag) ?? fallback;
    const page: TiffPageInfo = {
      width: get(256, 0),
      height: get(257, 0),
      bitsPerSample: get(258, 1),
      samplesPerPixel: get(277, 1),
      photometric: get(262, 1),
      compression: get(259, 1),
      reduced: (get(254, 0) & 1) === 1,
      index: pages.length,
      ownReader: false,
    };
    page.ownReader =
      page.bitsPerSample === 8 &&
      page.samplesPerPixel === 1 &&
      (page.photometric === 0 || page.photometric === 1) &&
      (page.compression === 1 || page.compression === 5) &&
      [1, 2].includes(get(317, 1)) &&
      get(339, 1) === 1 &&
      get(266, 1) === 1 &&
      !tags.has(320) &&
      !tags.has(322) &&
      !tags.has(324);
    pages.push(page);
    ifd = view.getUint32(ifd + 2 + n * 12, le);
  }
  return pages.length > 0 ? pages : "no directory";
}
