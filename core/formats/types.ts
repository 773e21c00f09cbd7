/**
 * Plain records the format code reads and writes. Exporters take a `Dataset` built from a project; importers
 * return a `ParsedDataset` keyed by names as written in the files, which the Node glue matches against a project.
 * Masks travel as COCO compressed RLE (core/rle) to keep memory small; coordinates are image pixels.
 */
import type { Rle } from '../rle';

export type FormatId = 'coco' | 'voc' | 'yolo' | 'labelme' | 'bundle';
export const formatIds: readonly FormatId[] = ['coco', 'voc', 'yolo', 'labelme', 'bundle'];

export interface DatasetImage {
  /** Project image id; written as the COCO image id. */
  id: number;
  /** Name the image has in the exported dataset, '/'-separated and relative (e.g. "a.jpg" or "sub/a.jpg"). */
  name: string;
  width: number;
  height: number;
  /** Made by Augment from the project image `sourceImageId` (null once that image was removed). */
  synthetic?: { sourceImageId: number | null };
}

export interface DatasetClass {
  /** Project class id. */
  id: number;
  name: string;
  /** CSS "#rrggbb". */
  color: string;
}

export interface DatasetAnnotation {
  /** Project annotation id; written as the COCO annotation id. */
  id: number;
  imageId: number;
  /** Null for an object without a class (formats that need a class skip it and say so). */
  classId: number | null;
  /** Mask at the image's size. */
  rle: Rle;
  /** Drawing order, lower first; later objects win where objects overlap in single-layer formats. */
  order: number;
  score: number | null;
}

export interface Dataset {
  images: DatasetImage[];
  classes: DatasetClass[];
  annotations: DatasetAnnotation[];
}

/** An image as an importer found it referenced. */
export interface ParsedImage {
  /** The image's name as written in the dataset ('/'-separated, relative to the dataset's image folder). */
  name: string;
  /** Size the dataset claims, if it says (COCO, labelme); checked against the real image by the glue. */
  width?: number;
  height?: number;
  /** The file the reference came from, for error messages. */
  source: string;
}

export interface ParsedAnnotation {
  /** Matches ParsedImage.name. */
  image: string;
  /** Class name as written; null when the format has none for this object. */
  className: string | null;
  rle: Rle;
  order: number;
  score: number | null;
  /** The file the object came from, for error messages. */
  source: string;
}

export interface ParsedDataset {
  images: ParsedImage[];
  annotations: ParsedAnnotation[];
  /** Class names in the dataset's own order (includes classes with no objects). */
  classNames: string[];
  /** Optional colours by class name ("#rrggbb"), where the format stores them. */
  classColors?: Record<string, string>;
  warnings: string[];
}

/** Export options shared by the polygon-writing formats. */
export interface PolygonOptions {
  /** Douglas-Peucker tolerance in pixels; 0 keeps the exact pixel outline (default 0.5). */
  tolerance?: number;
}
