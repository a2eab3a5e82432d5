/** An 8-bit grey image, row-major (data[y * width + x]). */
export interface GreyImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** The Kaggle frame size. */
export const KAGGLE_WIDTH = 580;
export const KAGGLE_HEIGHT = 420;
