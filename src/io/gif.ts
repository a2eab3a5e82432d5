/**
 * A GIF decoder (GIF87a and GIF89a) that keeps the colour-table indices of every frame.
 *
 * Written by hand rather than through sharp because sharp (libnsgif) expands the colour tables to RGBA, which
 * loses the indices a label map stores (and GIF masks are common: the DDTI thyroid set ships them). The
 * decoder reads the global and local colour tables, graphic control extensions (transparency, disposal),
 * interlaced and non-interlaced frames, and the variable-width LZW code stream.
 *
 * Frames of an animation are composited as a viewer shows them: a frame draws over the canvas, except at its
 * transparent pixels, which keep what lies beneath; disposal 2 restores the frame's rectangle to the
 * background and disposal 3 to the canvas as it was before the frame. The canvas starts as the background
 * colour index. One exception keeps masks exact: in the first frame, transparent pixels keep their own index
 * (as the stored value, alpha being ignored everywhere in this reader). An index beyond its colour table shows
 * black, as browsers do.
 */
import { fileError } from "../core/errors.js";
import { paletteLuma } from "./luma.js";

/** One composited GIF frame. */
export interface GifFrame {
  /** Colour-table index per pixel (canvas size). */
  indices: Uint8Array;
  /** BT.601 luma of each pixel's colour. */
  luma: Uint8Array;
}

export interface DecodedGif {
  width: number;
  height: number;
  /** Bits per index of the first colour table used (1..8). */
  bitDepth: number;
  frames: GifFrame[];
}

interface RawGifFrame {
  left: number;
  top: number;
  width: number;
  height: number;
  indices: Uint8Array;
  /** Luma per index of the colour table in force for this frame (256 entries; missing entries black). */
  lumaTable: Uint8Array;
  transparent: number; // -1 when none
  disposal: number;
}

/** Detects GIF87a/GIF89a. */
export function isGif(bytes: Uint8Array): boolean {
  if (bytes.length < 6) return false;
  const head = String.fromCharCode(...bytes.subarray(0, 6));
  return head === "GIF87a" || head === "GIF89a";
}

/**
 * Decodes a GIF held in memory. `maxFrames` stops after that many frames (the count of frames in the file is
 * still returned through `frameCount`); `maxPixels` guards the canvas size and `maxTotalPixels` all
 * composited frames together.
 */
export function decodeGif(
  bytes: Uint8Array,
  file: string,
  opts: { maxFrames?: number; maxPixels: number; maxTotalPixels: number },
): DecodedGif & { frameCount: number } {
  const fail = (problem: string): never => {
    throw fileError(file, problem);
  };
  if (!isGif(bytes)) fail("not a GIF (bad signature)");
  if (bytes.length < 13) fail(`truncated GIF (only ${bytes.length} bytes)`);
  const u16 = (at: number): number => bytes[at]! | (bytes[at + 1]! << 8);
  let width = u16(6);
  let height = u16(8);
  const screenFlags = bytes[10]!;
  const background = bytes[11]!;
  let pos = 13;

  const readTable = (size: number): Uint8Array => {
    const n = 3 * size;
    if (pos + n > bytes.length) fail("truncated GIF (colour table runs past the end)");
    const table = bytes.subarray(pos, pos + n);
    pos += n;
    return table;
  };
  const lumaTableOf = (table: Uint8Array): Uint8Array => {
    const out = new Uint8Array(256); // indices past the table stay 0: black
    out.set(paletteLuma(table, table.length / 3));
    return out;
  };

  let globalLuma: Uint8Array | null = null;
  let globalBits = 0;
  if (screenFlags & 0x80) {
    globalBits = (screenFlags & 7) + 1;
    globalLuma = lumaTableOf(readTable(1 << globalBits));
  }

  /** Skips data sub-blocks; returns their concatenation when `keep`. */
  const subBlocks = (keep: boolean): Uint8Array => {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      if (pos >= bytes.length) fail("truncated GIF (data blocks run past the end)");
      const n = bytes[pos++]!;
      if (n === 0) break;
      if (pos + n > bytes.length) fail("truncated GIF (data blocks run past the end)");
      if (keep) parts.push(bytes.subarray(pos, pos + n));
      total += n;
      pos += n;
    }
    if (!keep) return new Uint8Array(0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };

  const raws: RawGifFrame[] = [];
  let frameCount = 0;
  let bitDepth = globalBits;
  let transparent = -1;
  let disposal = 0;
  const maxFrames = opts.maxFrames ?? Infinity;
  for (;;) {
    if (pos >= bytes.length) fail("truncated GIF (no trailer)");
    const block = bytes[pos++]!;
    if (block === 0x3b) break; // trailer
    if (block === 0x21) {
      if (pos >= bytes.length) fail("truncated GIF (extension runs past the end)");
      const label = bytes[pos++]!;
      if (label === 0xf9) {
        const gce = subBlocks(true);
        if (gce.length >= 4) {
          disposal = (gce[0]! >> 2) & 7;
          transparent = gce[0]! & 1 ? gce[3]! : -1;
        }
      } else subBlocks(false);
      continue;
    }
    if (block !== 0x2c) fail(`corrupt GIF (unknown block type 0x${block.toString(16)})`);
    if (pos + 9 > bytes.length) fail("truncated GIF (image descriptor runs past the end)");
    const left = u16(pos);
    const top = u16(pos + 2);
    const fw = u16(pos + 4);
    const fh = u16(pos + 6);
    const flags = bytes[pos + 8]!;
    pos += 9;
    let lumaTable = globalLuma;
    if (flags & 0x80) {
      const bits = (flags & 7) + 1;
      lumaTable = lumaTableOf(readTable(1 << bits));
      if (frameCount === 0) bitDepth = bits;
    }
    if (!lumaTable) fail(`corrupt GIF (frame ${frameCount + 1} has no colour table)`);
    if (pos >= bytes.length) fail("truncated GIF (image data runs past the end)");
    const minCodeSize = bytes[pos++]!;
    const wanted = frameCount < maxFrames;
    const data = subBlocks(wanted);
    frameCount++;
    if (wanted) {
      if (fw * fh > opts.maxPixels) fail(`frame too large (${fw}x${fh} > ${opts.maxPixels} pixels)`);
      if (minCodeSize < 1 || minCodeSize > 8) fail(`corrupt GIF (LZW code size ${minCodeSize})`);
      const indices = lzwDecodeGif(data, minCodeSize, fw * fh, fail);
      raws.push({
        left,
        top,
        width: fw,
        height: fh,
        indices: flags & 0x40 ? deinterlace(indices, fw, fh) : indices,
        lumaTable: lumaTable!,
        transparent,
        disposal,
      });
    }
    transparent = -1;
    disposal = 0;
  }
  if (raws.length === 0) fail("GIF without any image");

  // The canvas covers the logical screen and every frame (as libnsgif and browsers grow it).
  for (const f of raws) {
    width = Math.max(width, f.left + f.width);
    height = Math.max(height, f.top + f.height);
  }
  if (width === 0 || height === 0) fail(`empty image (${width}x${height})`);
  if (width * height > opts.maxPixels)
    fail(`image too large (${width}x${height} > ${opts.maxPixels} pixels)`);
  if (raws.length * width * height > opts.maxTotalPixels)
    fail(
      `too many pixels in all frames together (${raws.length} x ${width}x${height} > ${opts.maxTotalPixels})`,
    );

  const canvasIdx = new Uint8Array(width * height).fill(background);
  const canvasLuma = new Uint8Array(width * height).fill((globalLuma ?? raws[0]!.lumaTable)[background]!);
  const bgLuma = canvasLuma[0]!;
  const frames: GifFrame[] = [];
  raws.forEach((f, k) => {
    const saved = f.disposal === 3 ? { idx: canvasIdx.slice(), luma: canvasLuma.slice() } : null;
    for (let y = 0; y < f.height; y++) {
      const cy = f.top + y;
      if (cy >= height) break;
      for (let x = 0; x < f.width; x++) {
        const cx = f.left + x;
        if (cx >= width) break;
        const v = f.indices[y * f.width + x]!;
        if (v === f.transparent && k > 0) continue;
        const i = cy * width + cx;
        canvasIdx[i] = v;
        canvasLuma[i] = f.lumaTable[v]!;
      }
    }
    frames.push({ indices: canvasIdx.slice(), luma: canvasLuma.slice() });
    if (f.disposal === 2) {
      for (let y = f.top; y < Math.min(height, f.top + f.height); y++) {
        const row = y * width;
        canvasIdx.fill(background, row + f.left, row + Math.min(width, f.left + f.width));
        canvasLuma.fill(bgLuma, row + f.left, row + Math.min(width, f.left + f.width));
      }
    } else if (saved) {
      canvasIdx.set(saved.idx);
      canvasLuma.set(saved.luma);
    }
  });
  return { width, height, bitDepth, frames, frameCount };
}

/** GIF's LZW: LSB-first variable-width codes from minCodeSize + 1 up to 12 bits. */
function lzwDecodeGif(
  data: Uint8Array,
  minCodeSize: number,
  nPixels: number,
  fail: (problem: string) => never,
): Uint8Array {
  const out = new Uint8Array(nPixels);
  const clear = 1 << minCodeSize;
  const eoi = clear + 1;
  // The dictionary as prefix links: code → (previous code, last byte, length).
  const prefix = new Int16Array(4096);
  const suffix = new Uint8Array(4096);
  const length = new Uint16Array(4096);
  for (let c = 0; c < clear; c++) {
    prefix[c] = -1;
    suffix[c] = c;
    length[c] = 1;
  }
  let codeSize = minCodeSize + 1;
  let next = eoi + 1;
  let prev = -1;
  let bitBuf = 0;
  let bitCount = 0;
  let at = 0;
  let written = 0;
  for (let i = 0; i < data.length && written < nPixels;) {
    while (bitCount < codeSize && i < data.length) {
      bitBuf |= data[i++]! << bitCount;
      bitCount += 8;
    }
    if (bitCount < codeSize) break;
    const code = bitBuf & ((1 << codeSize) - 1);
    bitBuf >>>= codeSize;
    bitCount -= codeSize;
    if (code === clear) {
      codeSize = minCodeSize + 1;
      next = eoi + 1;
      prev = -1;
      continue;
    }
    if (code === eoi) break;
    let first: number;
    if (code < next && (code < clear || code > eoi)) {
      // Known code: emit its string.
      const len = length[code]!;
      let c = code;
      for (let k = len - 1; k >= 0; k--) {
        if (at + k < nPixels) out[at + k] = suffix[c]!;
        c = prefix[c]!;
      }
      first = out[at] ?? firstByte(code, prefix, suffix);
      at += len;
    } else if (code === next && prev >= 0) {
      // The KwKwK case: the previous string plus its own first byte.
      const len = length[prev]! + 1;
      let c = prev;
      const head = firstByte(prev, prefix, suffix);
      if (at + len - 1 < nPixels) out[at + len - 1] = head;
      for (let k = len - 2; k >= 0; k--) {
        if (at + k < nPixels) out[at + k] = suffix[c]!;
        c = prefix[c]!;
      }
      first = head;
      at += len;
    } else {
      return fail(`corrupt GIF image data (LZW code ${code} out of sequence)`);
    }
    if (prev >= 0 && next < 4096) {
      prefix[next] = prev;
      suffix[next] = first;
      length[next] = length[prev]! + 1;
      next++;
      if (next === 1 << codeSize && codeSize < 12) codeSize++;
    }
    prev = code;
    written = Math.min(at, nPixels);
  }
  if (written < nPixels) fail(`truncated or corrupt GIF image data (${written} of ${nPixels} pixels)`);
  return out;
}

function firstByte(code: number, prefix: Int16Array, suffix: Uint8Array): number {
  let c = code;
  while (prefix[c]! >= 0) c = prefix[c]!;
  return suffix[c]!;
}

/** Reorders the rows of an interlaced frame (passes of every 8th row from 0, 8th from 4, 4th from 2, 2nd from 1). */
function deinterlace(indices: Uint8Array, w: number, h: number): Uint8Array {
  const out = new Uint8Array(indices.length);
  let src = 0;
  for (const [start, step] of [
    [0, 8],
    [4, 8],
    [2, 4],
    [1, 2],
  ] as const) {
    for (let y = start; y < h; y += step) {
      out.set(indices.subarray(src * w, (src + 1) * w), y * w);
      src++;
    }
  }
  return out;
}
