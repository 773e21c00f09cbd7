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

/** Whether a JPEG or PNG file lacks its end marker (JPEG EOI, PNG IEND chunk): cut short in transfer or copy. */
function truncated(bytes: Uint8Array): boolean {
  if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    // Some writers append data after EOI, so look for it near the end rather than at the very end.
    for (let i = bytes.length - 2; i >= Math.max(2, bytes.length - 65536); i--) if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return false;
    return true;
  }
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    return Buffer.from(bytes.subarray(Math.max(0, bytes.length - 64))).indexOf('IEND') < 0;
  }
  return false;
}

/**
 * A decoder failure (sharp, libvips, our BMP reader) as a reason a labeler can act on. libvips sometimes reports a
 * bare "Unknown error" when several images are decoded at once, so with the file's `bytes` a truncated JPEG or PNG
 * is recognised by its missing end marker instead of by the message.
 */
export function failureReason(error: unknown, bytes?: Uint8Array): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/unsupported image format/i.test(message)) return 'not an image, or a format the studio cannot read';
  if (/pixel limit/i.test(message)) return `image is larger than ${maxImagePixels / 1e6} megapixels`;
  if (/buffer is empty/i.test(message)) return 'the file is empty';
  if (/premature end|truncated|unexpected end/i.test(message) || (bytes && truncated(bytes))) {
    return 'the file is truncated: it ends before the image data does';
  }
  if (/corrupt header/i.test(message)) return 'the file is damaged: its header cannot be read';
  if (/^unknown error$/i.test(message.trim()) || !message.trim()) return 'the file is damaged: the decoder could not read it';
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
    throw new ImageDecodeError(failureReason(error, bytes));
  }
}

/** The file's bytes; a missing, unreadable or empty file is an ImageDecodeError saying which. */
export async function readImageBytes(path: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ImageDecodeError(code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : `cannot read file (${code ?? failureReason(error)})`);
  }
  if (bytes.length === 0) throw new ImageDecodeError('the file is empty');
  return bytes;
}

export async function decodeImageFile(path: string): Promise<RgbImage> {
  return decodeImage(await readImageBytes(path));
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
