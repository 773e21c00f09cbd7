/** Test fixtures made on the spot (the suite needs nothing outside the repository). */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { sampleSvg } from '../electron/sample';

export function tempDir(prefix = 'pixelwise-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes `count` generated scenes (width x height, scene seeds from `seed`) as JPEG/PNG alternately; returns their paths. */
export async function writeImages(dir: string, count: number, width = 320, height = 240, seed = 1000): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const png = i % 2 === 1;
    const file = join(dir, `scene-${String(i).padStart(4, '0')}.${png ? 'png' : 'jpg'}`);
    const image = sharp(Buffer.from(sampleSvg(seed + i))).resize(width, height, { fit: 'fill' });
    await (png ? image.png() : image.jpeg({ quality: 85 })).toFile(file);
    files.push(file);
  }
  return files;
}

/** A file with an image extension that is not an image, and a truncated JPEG. */
export async function writeBadImages(dir: string): Promise<{ notImage: string; truncated: string }> {
  mkdirSync(dir, { recursive: true });
  const notImage = join(dir, 'notes.jpg');
  writeFileSync(notImage, 'this is not an image');
  const jpeg = await sharp(Buffer.from(sampleSvg(7))).jpeg().toBuffer();
  const truncated = join(dir, 'truncated.jpg');
  writeFileSync(truncated, jpeg.subarray(0, Math.floor(jpeg.length / 3)));
  return { notImage, truncated };
}
