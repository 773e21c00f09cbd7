/** Decoded images as pure code sees them. */
export interface RgbImage {
  width: number;
  height: number;
  /** width * height * 3 bytes, row-major, RGB. */
  data: Uint8Array;
}
