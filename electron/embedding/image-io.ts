/**
 * Decoding image files on the main side: sharp (libvips) for JPEG, PNG, WebP, TIFF, GIF; our own decoder for BMP.
 * Every failure becomes an ImageDecodeError with a reason a labeler can act on.
 */
import { readFile } from 'node:fs/promises';
import sharp, { type Sharp } from 'sharp';
import { decodeBmp, isBmp } from '../../core/bmp';
import type { RgbImage } from '../../core/image';

/** Larger images are refused with a clear error instead of exhausting memory (about 400 MB of RGB). */
export const maxImagePixels = 150_000_000;

export const imageExtensions = ['.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff', '.gif'];

export class ImageDecodeError extends Error {
  override name = 'ImageDecodeError';
}

function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/unsupported image format/i.test(message)) return 'not an image, or a format the studio cannot read';
  if (/pixel limit/i.test(message)) return `image is larger than ${maxImagePixels / 1e6} megapixels`;
  return message.split('\n')[0];
}

/** A sharp pipeline for the file's bytes, with orientation applied; BMP goes through our decoder first. */
export function openImage(bytes: Uint8Array): Sharp {
  if (isBmp(bytes)) {
    const image = decodeBmp(bytes, maxImagePixels);
    return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
  }
  return sharp(bytes, { limitInputPixels: maxImagePixels, failOn: 'error' }).rotate();
}

export async function decodeImage(bytes: Uint8Array): Promise<RgbImage> {
  try {
    const { data, info } = await openImage(bytes)
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded ${info.channels} channels, expected 3`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (error) {
    throw new ImageDecodeError(reason(error));
  }
}

export async function decodeImageFile(path: string): Promise<RgbImage> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new ImageDecodeError(`cannot read file: ${(error as NodeJS.ErrnoException).code ?? reason(error)}`);
  }
  return decodeImage(bytes);
}

/** RGB image resized to exactly width x height (bilinear-ish, libvips). */
export async function resizeRgb(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  if (image.width === width && image.height === height) return image;
  const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(width, height, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer();
  return { width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}
