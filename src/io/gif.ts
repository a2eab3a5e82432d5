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
import { checkBudget, yielder, type DecodeLimits } from "./limits.js";
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

/** Detects GIF87a/GIF89a. */
export function isGif(bytes: Uint8Array): boolean {
  if (bytes.length < 6) return false;
  const head = String.fromCharCode(...bytes.subarray(0, 6));
  return head === "GIF87a" || head === "GIF89a";
}

/** A frame as the scan finds it: its place, colour table and where its LZW data lies, not yet decoded. */
interface ScannedFrame {
  left: number;
  top: number;
  width: number;
  height: number;
  flags: number;
  lumaTable: Uint8Array;
  minCodeSize: number;
  /** [start, end) of each data sub-block's bytes. */
  blocks: [number, number][];
  transparent: number;
  disposal: number;
}

/**
 * Decodes a GIF held in memory. The whole file is scanned first (block structure only, no LZW), so its frame
 * count and canvas are known and checked against `limits` before anything is decoded. `maxFrames` stops after
 * that many frames (the count of frames in the file is still returned through `frameCount`). Frames are
 * composited one at a time, with a turn of the event loop now and then so a signal is handled.
 */
export async function decodeGif(
  bytes: Uint8Array,
  file: string,
  limits: DecodeLimits,
  opts: { maxFrames?: number } = {},
): Promise<DecodedGif & { frameCount: number }> {
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

  /** Steps over data sub-blocks, returning where each one's bytes lie. */
  const subBlocks = (): [number, number][] => {
    const spans: [number, number][] = [];
    for (;;) {
      if (pos >= bytes.length) fail("truncated GIF (data blocks run past the end)");
      const n = bytes[pos++]!;
      if (n === 0) break;
      if (pos + n > bytes.length) fail("truncated GIF (data blocks run past the end)");
      spans.push([pos, pos + n]);
      pos += n;
    }
    return spans;
  };

  const scanned: ScannedFrame[] = [];
  let count = 0;
  let bitDepth = globalBits;
  let transparent = -1;
  let disposal = 0;
  for (;;) {
    if (pos >= bytes.length) fail("truncated GIF (no trailer)");
    const block = bytes[pos++]!;
    if (block === 0x3b) break; // trailer
    if (block === 0x21) {
      if (pos >= bytes.length) fail("truncated GIF (extension runs past the end)");
      const label = bytes[pos++]!;
      const spans = subBlocks();
      if (label === 0xf9 && spans.length > 0 && spans[0]![1] - spans[0]![0] >= 4) {
        const gce = spans[0]![0];
        disposal = (bytes[gce]! >> 2) & 7;
        transparent = bytes[gce]! & 1 ? bytes[gce + 3]! : -1;
      }
      continue;
    }
    if (block !== 0x2c) fail(`corrupt GIF (unknown block type 0x${block.toString(16)})`);
    if (pos + 9 > bytes.length) fail("truncated GIF (image descriptor runs past the end)");
    const flags = bytes[pos + 8]!;
    const frame = { left: u16(pos), top: u16(pos + 2), width: u16(pos + 4), height: u16(pos + 6), flags };
    pos += 9;
    let lumaTable = globalLuma;
    if (flags & 0x80) {
      const bits = (flags & 7) + 1;
      lumaTable = lumaTableOf(readTable(1 << bits));
      if (count === 0) bitDepth = bits;
    }
    if (!lumaTable) fail(`corrupt GIF (frame ${count + 1} has no colour table)`);
    if (pos >= bytes.length) fail("truncated GIF (image data runs past the end)");
    const minCodeSize = bytes[pos++]!;
    if (minCodeSize < 1 || minCodeSize > 8) fail(`corrupt GIF (LZW code size ${minCodeSize})`);
    const blocks = subBlocks();
    // Past the frame limit the file is refused below; only count the rest, keeping nothing.
    if (count < limits.maxFrames)
      scanned.push({ ...frame, lumaTable: lumaTable!, minCodeSize, blocks, transparent, disposal });
    count++;
    transparent = -1;
    disposal = 0;
  }
  if (scanned.length === 0) fail("GIF without any image");

  // The canvas covers the logical screen and every frame (as libnsgif and browsers grow it).
  for (const f of scanned) {
    width = Math.max(width, f.left + f.width);
    height = Math.max(height, f.top + f.height);
  }
  if (width === 0 || height === 0) fail(`empty image (${width}x${height})`);
  // Every frame becomes a canvas-sized frame (indices and luma): that is what the file asks for.
  const frameCount = count;
  checkBudget(
    file,
    {
      frames: frameCount,
      width,
      height,
      totalPixels: frameCount * width * height,
      sampleBytes: frameCount * width * height,
      fileBytes: bytes.length,
    },
    limits,
  );

  const canvasIdx = new Uint8Array(width * height).fill(background);
  const canvasLuma = new Uint8Array(width * height).fill((globalLuma ?? scanned[0]!.lumaTable)[background]!);
  const bgLuma = canvasLuma[0]!;
  const frames: GifFrame[] = [];
  const pause = yielder();
  const wanted = scanned.slice(0, opts.maxFrames ?? Infinity);
  for (const [k, f] of wanted.entries()) {
    const data = new Uint8Array(f.blocks.reduce((s, [a, b]) => s + b - a, 0));
    let at = 0;
    for (const [a, b] of f.blocks) {
      data.set(bytes.subarray(a, b), at);
      at += b - a;
    }
    const decoded = lzwDecodeGif(data, f.minCodeSize, f.width * f.height, fail);
    const indices = f.flags & 0x40 ? deinterlace(decoded, f.width, f.height) : decoded;
    const saved = f.disposal === 3 ? { idx: canvasIdx.slice(), luma: canvasLuma.slice() } : null;
    for (let y = 0; y < f.height; y++) {
      const cy = f.top + y;
      if (cy >= height) break;
      for (let x = 0; x < f.width; x++) {
        const cx = f.left + x;
        if (cx >= width) break;
        const v = indices[y * f.width + x]!;
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
    await pause();
  }
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
