/**
 * What each format cannot hold, in words the export dialog and docs/formats.md show. Kept beside the code that
 * causes the loss so the two stay true together.
 */
import type { FormatId } from './types';

export interface FormatLoss {
  /** Stable id: the renderer translates by it (`datasets.lossText.<key>`), English `text` is the fallback. */
  key: string;
  /** Only true of polygon output (COCO and labelme also write exact masks). */
  polygonsOnly?: boolean;
  text: string;
}

export const LOSSES: Record<FormatId, FormatLoss[]> = {
  coco: [
    { key: 'coco.noClass', text: 'Objects without a class are not exported (COCO needs a category).' },
    { key: 'coco.notStored', text: 'Class colours, review state and embeddings are not stored.' },
    { key: 'coco.simplified', polygonsOnly: true, text: 'Polygon mode: outlines are simplified (tolerance 0.5 px by default); objects with holes are written as RLE unless holes are set to "fill", which fills them.' },
    { key: 'coco.rasterised', polygonsOnly: true, text: 'Polygon mode: pycocotools rasterises simplified outlines on a 1/5-pixel grid, so diagonal edges can move by a pixel (IoU >= 0.98 in our tests; exact outlines with tolerance 0 come back pixel for pixel).' },
  ],
  voc: [
    { key: 'voc.overlap', text: 'One label per pixel: where objects overlap, the later object in z-order wins and the earlier one loses those pixels.' },
    { key: 'voc.limits', text: 'At most 254 objects per image and 254 classes (index 255 is void).' },
    { key: 'voc.noClass', text: 'Objects without a class are written to SegmentationObject only and come back without a class.' },
    { key: 'voc.voidBorder', text: 'With the void border option, every object\'s outermost pixels become 255 (void) and are lost on re-import.' },
    { key: 'voc.notStored', text: 'Class colours become the VOC colormap; scores and embeddings are not stored; images are re-encoded as JPEG when they are not JPEG already.' },
  ],
  yolo: [
    { key: 'yolo.holes', text: 'Holes are filled: a YOLO line is one simple polygon.' },
    { key: 'yolo.parts', text: 'An object with several parts is written as one line per part and comes back as several objects.' },
    { key: 'yolo.simplified', text: 'Outlines are simplified (tolerance 0.5 px by default); coordinates are rounded to 6 decimals of the image size.' },
    { key: 'notExported', text: 'Objects without a class are not exported; class colours, scores and embeddings are not stored.' },
  ],
  labelme: [
    { key: 'labelme.simplified', polygonsOnly: true, text: 'Polygon mode: outlines are simplified (tolerance 0.5 px by default); objects with holes are written as a labelme "mask" shape (labelme 5.3 or newer) unless holes are set to "fill".' },
    { key: 'notExported', text: 'Objects without a class are not exported; class colours, scores and embeddings are not stored.' },
  ],
  bundle: [
    { key: 'bundle.nothing', text: 'Nothing is lost: the bundle is the project database itself. Without the images option, image files must be copied by hand; without embeddings, they are recomputed.' },
  ],
};
