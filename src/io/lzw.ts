/**
 * TIFF-flavoured LZW (compression 5) as libtiff reads and writes it: MSB-first codes of 9 to 12 bits,
 * Clear = 256, EOI = 257, and the "early change" (the code width grows when the next free code reaches
 * 2^width - 1, one code earlier than in GIF).
 */

const CLEAR = 256;
const EOI = 257;
const FIRST = 258;
const MAX_BITS = 12;
const TABLE_SIZE = 1 << MAX_BITS;

/** Why a strip could not be decoded; the TIFF reader turns it into an error naming the file. */
export class LzwError extends Error {}

// Decoder table: entry k >= 258 is the byte string out[start[k] .. start[k] + len[k]). This works because
// each new entry is "previous string + first byte of the current one", which lies contiguously in the output.
// Shared between calls (decoding is synchronous) so that 11k images do not allocate 11k tables.
const decStart = new Int32Array(TABLE_SIZE);
const decLen = new Int32Array(TABLE_SIZE);

/**
 * Decodes one LZW strip from `src` into `out[outStart .. outEnd)`; returns the number of bytes written.
 * Stops at EOI, at the end of `src`, or once the output range is full, whichever comes first (libtiff
 * also stops once it has the bytes it asked for). Throws LzwError on a corrupt code stream.
 */
export function lzwDecodeInto(src: Uint8Array, out: Uint8Array, outStart: number, outEnd: number): number {
  if (src.length >= 2 && src[0] === 0 && (src[1]! & 1) === 1) {
    throw new LzwError("old-style (pre-5.0 libtiff, LSB-first) LZW is not supported");
  }
  let pos = outStart;
  let inPos = 0;
  const inEnd = src.length;
  let bitBuf = 0;
  let bitCount = 0;
  let width = 9;
  let mask = (1 << width) - 1;
  let next = FIRST;
  // The previous string, as its latest place in the output; none right after a Clear.
  let hasPrev = false;
  let prevAt = 0;
  let prevLen = 0;

  // Every iteration consumes at least 9 bits, so the loop is bounded by the input size.
  for (;;) {
    while (bitCount < width) {
      if (inPos >= inEnd) return pos - outStart; // end of strip data without EOI
      bitBuf = (bitBuf << 8) | src[inPos++]!;
      bitCount += 8;
    }
    bitCount -= width;
    const code = (bitBuf >>> bitCount) & mask;

    if (code === CLEAR) {
      width = 9;
      mask = 511;
      next = FIRST;
      hasPrev = false;
      continue;
    }
    if (code === EOI) return pos - outStart;

    let start = 0;
    let len = 1;
    if (code > 255) {
      if (code < next && hasPrev) {
        start = decStart[code]!;
        len = decLen[code]!;
      } else if (code === next && hasPrev) {
        // KwKwK: the previous string plus its own first byte.
        start = prevAt;
        len = prevLen + 1;
      } else if (!hasPrev) {
        throw new LzwError(`code ${code} where a literal byte was expected (first code after a Clear)`);
      } else {
        throw new LzwError(`code ${code} is not yet in the table (next free code ${next})`);
      }
    }

    // New entry = previous string + first byte of this one, which is exactly what the output holds from
    // prevAt on, because this string is written right after the previous one.
    if (hasPrev && next < TABLE_SIZE) {
      decStart[next] = prevAt;
      decLen[next] = prevLen + 1;
      next++;
      if (next === mask && width < MAX_BITS) {
        width++;
        mask = (1 << width) - 1;
      }
    }

    const room = outEnd - pos;
    if (room <= 0) return pos - outStart;
    prevAt = pos;
    prevLen = len;
    hasPrev = true;
    if (code < 256) {
      out[pos++] = code;
    } else {
      const n = len <= room ? len : room;
      // Forward byte copy handles the overlapping KwKwK case; strings are short on average.
      if (n > 32 && start + n <= pos) out.copyWithin(pos, start, start + n);
      else for (let i = 0; i < n; i++) out[pos + i] = out[start + i]!;
      pos += n;
      if (n < len) return pos - outStart;
    }
  }
}

// Encoder dictionary: open addressing on (prefix << 8 | byte); 16k slots keep the load under 25%.
const HASH_SIZE = 1 << 14;
const encKeys = new Int32Array(HASH_SIZE); // key + 1, 0 = empty
const encCodes = new Uint16Array(HASH_SIZE);

/** Encodes `data` as one LZW strip, bit-compatible with what libtiff reads (Clear first, EOI last). */
export function lzwEncode(data: Uint8Array): Uint8Array {
  // Bound: at most one code (<= 12 bits) per input byte, plus a 12-bit Clear every ~3800 codes and EOI.
  const out = new Uint8Array(Math.ceil(data.length * 1.5) + (data.length >> 8) + 64);
  let outPos = 0;
  let bitBuf = 0;
  let bitCount = 0;
  let width = 9;

  const put = (code: number): void => {
    bitBuf = (bitBuf << width) | code;
    bitCount += width;
    while (bitCount >= 8) {
      bitCount -= 8;
      out[outPos++] = (bitBuf >>> bitCount) & 0xff;
    }
  };

  encKeys.fill(0);
  let next = FIRST;
  put(CLEAR);
  if (data.length === 0) {
    put(EOI);
  } else {
    let ent = data[0]!;
    for (let i = 1; i < data.length; i++) {
      const c = data[i]!;
      const key = (ent << 8) | c;
      let h = Math.imul(key, 0x9e3779b1) >>> 18;
      let found = -1;
      for (;;) {
        const k = encKeys[h]!;
        if (k === 0) break;
        if (k === key + 1) {
          found = encCodes[h]!;
          break;
        }
        h = (h + 1) & (HASH_SIZE - 1);
      }
      if (found >= 0) {
        ent = found;
        continue;
      }
      put(ent);
      ent = c;
      encKeys[h] = key + 1;
      encCodes[h] = next++;
      // Same schedule as libtiff's LZWEncode: reset before the decoder's table would overflow, and
      // widen once the encoder's next code passes 2^width - 1 (the decoder lags one entry: early change).
      if (next === TABLE_SIZE - 2) {
        put(CLEAR);
        encKeys.fill(0);
        next = FIRST;
        width = 9;
      } else if (next > (1 << width) - 1) {
        width++;
      }
    }
    // Final string, then the width bump the decoder makes when it adds its entry (LZWPostEncode), then EOI.
    put(ent);
    next++;
    if (next === TABLE_SIZE - 2) {
      put(CLEAR);
      width = 9;
    } else if (next > (1 << width) - 1) {
      width++;
    }
    put(EOI);
  }
  if (bitCount > 0) out[outPos++] = (bitBuf << (8 - bitCount)) & 0xff;
  return out.slice(0, outPos);
}
