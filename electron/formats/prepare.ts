/**
 * The read-and-check half of a dataset import: everything but the write, against a plain record of the project's
 * images, so it can run in a worker thread (./import-worker) while the main thread keeps answering requests.
 */
import { FormatError } from '../../core/formats/errors';
import type { FormatId } from '../../core/formats/types';
import type { ImportOptions, KnownImages, PreparedImport, ProgressHandler } from './apply';
import { prepareCoco } from './coco';
import { prepareLabelme } from './labelme';
import { prepareVoc } from './voc';
import { prepareYolo } from './yolo';

/** Reads, checks and matches a dataset; file-system failures become FormatErrors naming the file. */
export async function prepareDataset(known: KnownImages, format: FormatId, path: string, options: ImportOptions = {}, onProgress?: ProgressHandler): Promise<PreparedImport> {
  try {
    switch (format) {
      case 'coco': return await prepareCoco(known, path, options, onProgress);
      case 'voc': return await prepareVoc(known, path, options, onProgress);
      case 'yolo': return await prepareYolo(known, path, options, onProgress);
      case 'labelme': return await prepareLabelme(known, path, options, onProgress);
      case 'bundle': throw new FormatError(path, 'a bundle is a whole project: open it with openBundle (unpacks into a new folder) instead of importing it');
      default: throw new FormatError(String(format), 'is not a dataset format (coco, voc, yolo, labelme, bundle)');
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (error instanceof FormatError || typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) throw error;
    throw new FormatError((error as NodeJS.ErrnoException).path ?? path, `file system error ${code} (${(error as Error).message})`);
  }
}
