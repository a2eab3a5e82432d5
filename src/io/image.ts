/** An 8-bit grey image, row-major (data[y * width + x]). */
export interface GreyImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** The Kaggle frame size. */
export const KAGGLE_WIDTH = 580;
export const KAGGLE_HEIGHT = 420;

/** The file formats readImageFile (image-read.ts) reads. */
export type ImageFormat = "png" | "jpeg" | "tiff" | "bmp" | "gif" | "dicom";

/** What the stored samples of a frame are. */
export type SampleModel = "grey" | "palette" | "rgb";

/** One frame of a decoded file. */
export interface DecodedFrame {
  /** The file's base name, or `name#k` for frame k (1-based) of a file with several frames. */
  name: string;
  /** BT.601 luminance, 8-bit. */
  image: GreyImage;
  /**
   * The raw single-channel values before any conversion, for label maps: palette indices for palette
   * PNG/GIF/BMP, stored grey values otherwise (16-bit files keep 16 bits; 1/2/4-bit files keep 0..2^b − 1;
   * DICOM keeps the stored values before rescale, window and MONOCHROME1 inversion). Absent for colour frames
   * and signed DICOM. For 8-bit grey files it may be the same array as `image.data`: do not modify it.
   */
  labels?: Uint8Array | Uint16Array;
  /** Grey, palette (labels are indices) or colour samples. */
  colour: SampleModel;
}

/**
 * Physical size of a pixel in millimetres: `row` between the centres of adjacent rows (vertical), `col`
 * between adjacent columns (horizontal): DICOM PixelSpacing's order.
 */
export interface PixelSpacing {
  row: number;
  col: number;
}

/** A decoded file. */
export interface DecodedFile {
  /** The path as given. */
  file: string;
  format: ImageFormat;
  /** Whether the pixels went through a lossy codec (JPEG, JPEG-compressed TIFF or DICOM, DICOM flagged lossy). */
  lossy: boolean;
  /**
   * Bits per stored sample of the first frame: 1..16 for grey, bits per index for palette files, bits per
   * channel for colour (8 for ordinary RGB). DICOM: Bits Stored.
   */
  bitDepth: number;
  /** How many frames the file holds (frames may hold only the first, see ReadImageOptions). */
  frameCount: number;
  frames: DecodedFrame[];
  /**
   * DICOM Pixel Spacing (0028,0030) as stored, when the file has it (values not checked: a malformed one
   * reads as NaN). Other formats carry no physical size.
   */
  pixelSpacing?: PixelSpacing;
}
