/**
 * Box-benchmark targets from a panoptic training set (../shared/data/train/COCO128_panoptic): per image, the two
 * largest "thing" segments (not crowds) covering at least 2% of it, each as its own object mask. Cluttered scenes
 * where the box holds other objects too, unlike the one-object sets with images/ + masks/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

export interface PanopticTarget {
  width: number;
  height: number;
  /** width * height bytes, 1 = object. */
  object: Uint8Array;
  ignore: null;
}

export interface PanopticSample {
  stem: string;
  imagePath: string;
  targets(): Promise<PanopticTarget[]>;
}

interface SegmentsFile {
  images: Array<{ stem: string; segments: Array<{ index: number; isthing: number; iscrowd: number; area: number }> }>;
}

export function listPanoptic(folder: string): PanopticSample[] {
  const file = JSON.parse(readFileSync(join(folder, 'segments.json'), 'utf8')) as SegmentsFile;
  return file.images.map((entry) => ({
    stem: entry.stem,
    // COCO's photos are JPEG; Augment's variants of them (augment-variants.ts) are PNG.
    imagePath: ['jpg', 'png'].map((ext) => join(folder, 'images', `${entry.stem}.${ext}`)).find((path) => existsSync(path)) ?? join(folder, 'images', `${entry.stem}.jpg`),
    async targets() {
      // 16-bit PNG of segment indices: read as one 16-bit grey channel, not converted to 8-bit sRGB.
      const { data, info } = await sharp(join(folder, 'segments', `${entry.stem}.png`)).toColourspace('grey16').raw({ depth: 'ushort' })
        .toBuffer({ resolveWithObject: true });
      const indices = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
      const { width, height } = info;
      const things = entry.segments.filter((segment) => segment.isthing && !segment.iscrowd && segment.area >= 0.02 * width * height)
        .sort((a, b) => b.area - a.area).slice(0, 2);
      return things.map((thing) => {
        const object = new Uint8Array(width * height);
        for (let i = 0; i < object.length; i++) if (indices[i] === thing.index) object[i] = 1;
        return { width, height, object, ignore: null };
      });
    },
  }));
}
