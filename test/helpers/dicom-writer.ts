/**
 * A minimal DICOM Part 10 writer for test fixtures: preamble, "DICM", the file meta group (explicit VR little
 * endian), then a data set with the image pixel module in the chosen transfer syntax: implicit or explicit VR
 * little endian, explicit VR big endian, deflated explicit little endian, or encapsulated fragments (JPEG
 * Baseline, or any other UID to test refusals).
 */
import zlib from "node:zlib";

export const TS = {
  implicitLE: "1.2.840.10008.1.2",
  explicitLE: "1.2.840.10008.1.2.1",
  deflatedLE: "1.2.840.10008.1.2.1.99",
  explicitBE: "1.2.840.10008.1.2.2",
  jpegBaseline: "1.2.840.10008.1.2.4.50",
  jpeg2000: "1.2.840.10008.1.2.4.90",
  jpegLs: "1.2.840.10008.1.2.4.80",
  rle: "1.2.840.10008.1.2.5",
} as const;

export interface DicomSpec {
  transferSyntax: string;
  rows: number;
  cols: number;
  frames?: number;
  samplesPerPixel?: 1 | 3;
  photometric?: string;
  bitsAllocated?: 1 | 8 | 16;
  bitsStored?: number;
  highBit?: number;
  pixelRepresentation?: 0 | 1;
  planarConfiguration?: 0 | 1;
  windowCenter?: number;
  windowWidth?: number;
  voiLutFunction?: string;
  rescaleSlope?: number;
  rescaleIntercept?: number;
  lossyImageCompression?: "00" | "01";
  /** Pixel Spacing (0028,0030) as written, e.g. "0.1\\0.2" (row\\column, mm). */
  pixelSpacing?: string;
  /**
   * Native pixel data, all frames one after the other, as stored samples: bytes for 8-bit (and for 1-bit,
   * already packed), 16-bit words for 16-bit (signed words are written as their two's complement).
   */
  pixels?: Uint8Array | Uint16Array | Int16Array;
  /** Encapsulated pixel data: the fragments, in order (one JPEG per frame, or a JPEG split in parts). */
  fragments?: Uint8Array[];
  /** Basic offset table entries for encapsulated data (default: empty table). */
  offsetTable?: number[];
  /** Leaves out the Pixel Data element. */
  noPixelData?: boolean;
}

interface El {
  group: number;
  element: number;
  vr: string;
  value: Uint8Array;
  undefinedLength?: boolean;
}

const LONG_VRS = new Set(["OB", "OW", "OF", "SQ", "UT", "UN"]);

function str(s: string, vr: string): Uint8Array {
  const padded = s.length % 2 === 0 ? s : s + (vr === "UI" ? "\0" : " ");
  return new TextEncoder().encode(padded);
}

function us(values: number[], le: boolean): Uint8Array {
  const out = new Uint8Array(2 * values.length);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint16(2 * i, v, le));
  return out;
}

function ul(v: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, v, true);
  return out;
}

function encodeElements(els: El[], explicit: boolean, le: boolean): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const el of [...els].sort((a, b) => a.group - b.group || a.element - b.element)) {
    const long = LONG_VRS.has(el.vr);
    const head = new Uint8Array(explicit ? (long ? 12 : 8) : 8);
    const view = new DataView(head.buffer);
    view.setUint16(0, el.group, le);
    view.setUint16(2, el.element, le);
    const length = el.undefinedLength ? 0xffffffff : el.value.length;
    if (explicit) {
      head[4] = el.vr.charCodeAt(0);
      head[5] = el.vr.charCodeAt(1);
      if (long) view.setUint32(8, length, le);
      else view.setUint16(6, length, le);
    } else view.setUint32(4, length, le);
    parts.push(head, el.value);
  }
  return concat(parts);
}

/** The parts joined into one array. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Item (FFFE,E000) with `body`, little endian as encapsulation always is. */
function item(body: Uint8Array): Uint8Array {
  const padded = body.length % 2 === 0 ? body : concat([body, new Uint8Array(1)]);
  const head = new Uint8Array(8);
  const view = new DataView(head.buffer);
  view.setUint16(0, 0xfffe, true);
  view.setUint16(2, 0xe000, true);
  view.setUint32(4, padded.length, true);
  return concat([head, padded]);
}

/** Encodes a DICOM Part 10 file from `spec`. */
export function encodeDicom(spec: DicomSpec): Uint8Array {
  const ts = spec.transferSyntax;
  const le = ts !== TS.explicitBE;
  const explicit = ts !== TS.implicitLE;
  const spp = spec.samplesPerPixel ?? 1;
  const bitsAllocated = spec.bitsAllocated ?? 8;
  const bitsStored = spec.bitsStored ?? bitsAllocated;
  const els: El[] = [
    { group: 0x0008, element: 0x0016, vr: "UI", value: str("1.2.840.10008.5.1.4.1.1.6.1", "UI") },
    { group: 0x0008, element: 0x0018, vr: "UI", value: str("1.2.3.4.5.6.7", "UI") },
    { group: 0x0008, element: 0x0060, vr: "CS", value: str("US", "CS") },
    { group: 0x0028, element: 0x0002, vr: "US", value: us([spp], le) },
    {
      group: 0x0028,
      element: 0x0004,
      vr: "CS",
      value: str(spec.photometric ?? (spp === 1 ? "MONOCHROME2" : "RGB"), "CS"),
    },
    { group: 0x0028, element: 0x0010, vr: "US", value: us([spec.rows], le) },
    { group: 0x0028, element: 0x0011, vr: "US", value: us([spec.cols], le) },
    { group: 0x0028, element: 0x0100, vr: "US", value: us([bitsAllocated], le) },
    { group: 0x0028, element: 0x0101, vr: "US", value: us([bitsStored], le) },
    { group: 0x0028, element: 0x0102, vr: "US", value: us([spec.highBit ?? bitsStored - 1], le) },
    { group: 0x0028, element: 0x0103, vr: "US", value: us([spec.pixelRepresentation ?? 0], le) },
  ];
  const ds = (group: number, element: number, v: number | string | undefined, vr = "DS"): void => {
    if (v !== undefined) els.push({ group, element, vr, value: str(String(v), vr) });
  };
  if (spp === 3)
    els.push({ group: 0x0028, element: 0x0006, vr: "US", value: us([spec.planarConfiguration ?? 0], le) });
  if (spec.frames !== undefined) ds(0x0028, 0x0008, spec.frames, "IS");
  ds(0x0028, 0x1050, spec.windowCenter);
  ds(0x0028, 0x1051, spec.windowWidth);
  ds(0x0028, 0x1052, spec.rescaleIntercept);
  ds(0x0028, 0x1053, spec.rescaleSlope);
  ds(0x0028, 0x1056, spec.voiLutFunction, "CS");
  ds(0x0028, 0x2110, spec.lossyImageCompression, "CS");
  ds(0x0028, 0x0030, spec.pixelSpacing);

  if (!spec.noPixelData) {
    if (spec.fragments) {
      const table = new Uint8Array(4 * (spec.offsetTable?.length ?? 0));
      spec.offsetTable?.forEach((o, i) => new DataView(table.buffer).setUint32(4 * i, o, true));
      const end = new Uint8Array(8);
      new DataView(end.buffer).setUint16(0, 0xfffe, true);
      new DataView(end.buffer).setUint16(2, 0xe0dd, true);
      els.push({
        group: 0x7fe0,
        element: 0x0010,
        vr: "OB",
        value: concat([item(table), ...spec.fragments.map(item), end]),
        undefinedLength: true,
      });
    } else {
      const px = spec.pixels ?? new Uint8Array(0);
      let bytes: Uint8Array;
      if (px instanceof Uint8Array) bytes = px.length % 2 === 0 ? px : concat([px, new Uint8Array(1)]);
      else {
        bytes = new Uint8Array(2 * px.length);
        const view = new DataView(bytes.buffer);
        px.forEach((v, i) => view.setUint16(2 * i, v & 0xffff, le));
      }
      els.push({ group: 0x7fe0, element: 0x0010, vr: bitsAllocated === 16 ? "OW" : "OB", value: bytes });
    }
  }

  let body = encodeElements(els, explicit, le);
  if (ts === TS.deflatedLE) body = zlib.deflateRawSync(body);

  const metaEls: El[] = [
    { group: 0x0002, element: 0x0001, vr: "OB", value: Uint8Array.from([0, 1]) },
    { group: 0x0002, element: 0x0002, vr: "UI", value: str("1.2.840.10008.5.1.4.1.1.6.1", "UI") },
    { group: 0x0002, element: 0x0003, vr: "UI", value: str("1.2.3.4.5.6.7", "UI") },
    { group: 0x0002, element: 0x0010, vr: "UI", value: str(ts, "UI") },
    { group: 0x0002, element: 0x0012, vr: "UI", value: str("1.2.3.4", "UI") },
  ];
  const meta = encodeElements(metaEls, true, true);
  const groupLength = encodeElements(
    [{ group: 0x0002, element: 0x0000, vr: "UL", value: ul(meta.length) }],
    true,
    true,
  );
  const preamble = new Uint8Array(132);
  preamble.set([0x44, 0x49, 0x43, 0x4d], 128);
  return concat([preamble, groupLength, meta, body]);
}
