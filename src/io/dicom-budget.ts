/**
 * The size checks of DICOM reading (dicom.ts): what a data set's image pixel module declares, and the
 * inflating of a deflated data set no further than that declaration allows.
 */
import dicomParser from "dicom-parser";
import { fileError, UserError } from "../core/errors.js";
import { inflateUpTo } from "./inflate.js";
import { checkBudget, maxInflatedBytes, type DecodeBudget, type DecodeLimits } from "./limits.js";

/**
 * What the image pixel module declares (all frames, as stored): checked against the limits before any pixel
 * is read, and, for a deflated file, before more than its first megabyte is inflated.
 */
export function declaredBudget(ds: dicomParser.DataSet, fileBytes: number): DecodeBudget {
  const rows = ds.uint16("x00280010") ?? 0;
  const cols = ds.uint16("x00280011") ?? 0;
  const declared = ds.intString("x00280008") ?? 1;
  const frames = Number.isInteger(declared) && declared >= 1 ? declared : 1;
  const spp = ds.uint16("x00280002") ?? 1;
  const samples = (ds.string("x00280004") ?? "").trim().toUpperCase() === "YBR_FULL_422" ? 2 : spp;
  const bits = ds.uint16("x00280100") ?? 8;
  return {
    frames,
    width: cols,
    height: rows,
    totalPixels: frames * rows * cols,
    sampleBytes: Math.ceil((frames * rows * cols * samples * bits) / 8),
    fileBytes,
  };
}

/** Inflated bytes read before the rest of a deflated data set is sized from its header. */
const DEFLATED_HEAD_BYTES = 2 ** 20;
/** Room for elements after the Pixel Data (padding, signatures) when inflating a deflated data set. */
const DEFLATED_TRAILER_BYTES = 2 ** 20;

/**
 * The file with its deflated data set inflated, no further than its header allows: first one megabyte, whose
 * elements before the Pixel Data declare the image (refused there if over the limits), then up to the end of
 * the pixel data. `complete` is false when the stream held more (elements after the pixels, left unread).
 */
export async function inflateDataSet(
  buffer: Buffer,
  file: string,
  limits: DecodeLimits,
): Promise<{ bytes: Buffer; complete: boolean }> {
  const start = (dicomParser.readPart10Header(buffer) as dicomParser.DataSet & { position: number }).position;
  const deflated = buffer.subarray(start);
  const inflate = async (max: number): Promise<{ data: Buffer; complete: boolean }> => {
    try {
      return await inflateUpTo(deflated, max);
    } catch (e) {
      throw fileError(
        file,
        `corrupt or truncated DICOM (deflated data: ${(e as { code?: string }).code ?? "zlib error"})`,
      );
    }
  };
  const withHead = (data: Buffer): Buffer => Buffer.concat([buffer.subarray(0, start), data]);
  const cap = maxInflatedBytes(deflated.length, limits);
  const head = await inflate(Math.min(cap, DEFLATED_HEAD_BYTES));
  if (head.complete) return { bytes: withHead(head.data), complete: true };
  let need = cap;
  try {
    const full = withHead(head.data);
    const ds = dicomParser.parseDicom(full, { untilTag: "x7fe00010", inflater: () => full } as never);
    const pixel = ds.elements.x7fe00010;
    if (pixel) {
      const budget = declaredBudget(ds, buffer.length);
      checkBudget(file, budget, limits);
      need = Math.min(cap, pixel.dataOffset - start + budget.sampleBytes + DEFLATED_TRAILER_BYTES);
    }
  } catch (e) {
    if (e instanceof UserError) throw e;
    // The elements before the pixels are longer than the first megabyte: the cap alone bounds the rest.
  }
  const all = await inflate(need);
  return { bytes: withHead(all.data), complete: all.complete };
}
