/**
 * Dataset import with its read-and-check half (prepareDataset) in a worker thread. Reading a dataset is seconds of
 * CPU for a large or hostile one, and on the main thread it stopped the web server answering: a 9 KB COCO file held
 * a concurrent `projects.current` for 23.6 s. The worker gets a copy of the project's image list; the write stays
 * here, in one transaction, as before. A worker over its heap cap dies alone: the import fails, the process lives.
 * Cancelling terminates the worker: before, a cancelled import read on to the end, wrote everything, and was then
 * reported as cancelled.
 */
import { Worker } from 'node:worker_threads';
import { FormatError } from '../../core/formats/errors';
import type { FormatId } from '../../core/formats/types';
import type { Project } from '../../db/project';
import { outFile } from '../paths';
import { ImportCancelled, type ImportOptions, type ImportResult, type PreparedImport, type ProgressHandler, commitImport, knownImages } from './apply';
import type { ImportWorkerMessage, ImportWorkerRequest } from './import-worker';

/** The worker's V8 heap cap: room for a JSON file at FormatLimits.maxTextBytes (512 MB) parsed. */
const heapMegabytes = 4096;

/**
 * importDataset, reading in a worker thread (needs the built out/import-worker.cjs). `cancelled` is polled: a
 * cancelled import stops the worker at once, or stops before the transaction, with ImportCancelled.
 */
export async function importDatasetInWorker(project: Project, format: FormatId, path: string, options: Omit<ImportOptions, 'addImage'> = {}, onProgress?: ProgressHandler, cancelled?: () => boolean): Promise<ImportResult> {
  const prepared = await prepareInWorker({ known: knownImages(project), format, path, options }, onProgress, cancelled);
  return commitImport(project, prepared.parsed, prepared.images, options, onProgress, cancelled);
}

function prepareInWorker(request: ImportWorkerRequest, onProgress?: ProgressHandler, cancelled?: () => boolean): Promise<PreparedImport> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(outFile('import-worker.cjs'), { workerData: request, resourceLimits: { maxOldGenerationSizeMb: heapMegabytes } });
    let settled = false;
    const poll = setInterval(() => {
      if (cancelled?.()) settle(() => reject(new ImportCancelled()));
    }, 100);
    const settle = (finish: () => void) => {
      if (settled) return;
      settled = true;
      clearInterval(poll);
      void worker.terminate();
      finish();
    };
    worker.on('message', (message: ImportWorkerMessage) => {
      if (message.type === 'progress') onProgress?.(message.progress);
      else if (message.type === 'done') settle(() => resolve(message.prepared));
      else settle(() => reject(message.file === null ? new Error(message.message) : new FormatError(message.file, message.message)));
    });
    worker.on('error', (error: NodeJS.ErrnoException) => settle(() => reject(error.code === 'ERR_WORKER_OUT_OF_MEMORY'
      ? new FormatError(request.path, `needed more than ${heapMegabytes} MB of memory to read and was stopped; nothing was changed`)
      : error)));
    worker.on('exit', (code) => settle(() => reject(new Error(`the dataset import worker stopped (exit code ${code}) before it finished`))));
  });
}
