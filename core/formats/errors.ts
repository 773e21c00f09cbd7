/**
 * The one error every importer and exporter throws for bad input: which file, and what is wrong with it, in words
 * a labeler can act on. Anything else escaping an importer is a bug.
 */
export class FormatError extends Error {
  override name = 'FormatError';
  constructor(
    /** The offending file, as the user would recognise it (path relative to the dataset, or as given). */
    readonly file: string,
    readonly detail: string,
  ) {
    super(`${file}: ${detail}`);
  }
}

/** Size limits applied before a file is read or decoded, so a huge or hostile file fails fast with a clear error. */
export interface FormatLimits {
  /** Largest JSON, text or YAML file read (bytes). */
  maxTextBytes: number;
  /** Largest PNG (bytes, compressed) read as a mask. */
  maxPngBytes: number;
  /** Largest mask, in pixels (width * height). */
  maxPixels: number;
  /**
   * Most pixels of object outline (polygons and boxes) one file may ask to draw (core/polygon OutlineBudget): a
   * COCO polygon is charged its crossings with pixel columns, a box, labelme or YOLO shape its crossings with rows
   * plus its run boundaries, about its perimeter. Drawing costs about 0.4 us and 12 bytes per pixel of outline
   * (measured on the 2-core dev VM); 20 million is some 50,000 objects 100 pixels across.
   */
  maxOutline: number;
}

export const defaultLimits: FormatLimits = {
  maxTextBytes: 512 * 1024 * 1024,
  maxPngBytes: 256 * 1024 * 1024,
  maxPixels: 150_000_000,
  maxOutline: 20_000_000,
};

export function describeBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 * 1024) return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} bytes`;
}

/** Runs `fn`, turning any non-FormatError it throws (RleError, PngError, RangeError...) into a FormatError for `file`. */
export function withFile<T>(file: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof FormatError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new FormatError(file, message);
  }
}
