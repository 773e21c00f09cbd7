/**
 * What each format cannot hold, in words the export dialog and docs/formats.md show. Kept beside the code that
 * causes the loss so the two stay true together.
 */
import type { FormatId } from './types';

export const LOSSES: Record<FormatId, string[]> = {
  coco: [
    'Objects without a class are not exported (COCO needs a category).',
    'Class colours, review state and embeddings are not stored.',
    'Polygon mode: outlines are simplified (tolerance 0.5 px by default); objects with holes are written as RLE unless holes are set to "fill", which fills them.',
    'Polygon mode: pycocotools rasterises simplified outlines on a 1/5-pixel grid, so diagonal edges can move by a pixel (IoU >= 0.98 in our tests; exact outlines with tolerance 0 come back pixel for pixel).',
  ],
  voc: [
    'One label per pixel: where objects overlap, the later object in z-order wins and the earlier one loses those pixels.',
    'At most 254 objects per image and 254 classes (index 255 is void).',
    'Objects without a class are written to SegmentationObject only and come back without a class.',
    'With the void border option, every object\'s outermost pixels become 255 (void) and are lost on re-import.',
    'Class colours become the VOC colormap; scores and embeddings are not stored; images are re-encoded as JPEG when they are not JPEG already.',
  ],
  yolo: [
    'Holes are filled: a YOLO line is one simple polygon.',
    'An object with several parts is written as one line per part and comes back as several objects.',
    'Outlines are simplified (tolerance 0.5 px by default); coordinates are rounded to 6 decimals of the image size.',
    'Objects without a class are not exported; class colours, scores and embeddings are not stored.',
  ],
  labelme: [
    'Polygon mode: outlines are simplified (tolerance 0.5 px by default); objects with holes are written as a labelme "mask" shape (labelme 5.3 or newer) unless holes are set to "fill".',
    'Objects without a class are not exported; class colours, scores and embeddings are not stored.',
  ],
  bundle: [
    'Nothing is lost: the bundle is the project database itself. Without the images option, image files must be copied by hand; without embeddings, they are recomputed.',
  ],
};
