/**
 * Worker thread that reads and checks one dataset (prepareDataset) for ./import-worker-client, so the parse never
 * blocks the main process's event loop. In: workerData = ImportWorkerRequest. Out: progress messages, then one
 * 'done' (the prepared import) or 'failed' (a FormatError's file and detail, or file null for any other error).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { FormatError } from '../../core/formats/errors';
import type { FormatId } from '../../core/formats/types';
import type { ImportOptions, KnownImages, PreparedImport } from './apply';
import { prepareDataset } from './prepare';

export interface ImportWorkerRequest {
  known: KnownImages;
  format: FormatId;
  path: string;
  options: Omit<ImportOptions, 'addImage'>;
}

export type ImportWorkerMessage =
  | { type: 'progress'; progress: { stage: string; done: number; total: number } }
  | { type: 'done'; prepared: PreparedImport }
  | { type: 'failed'; file: string | null; message: string };

const port = parentPort;
if (!port) throw new Error('import-worker must run in a worker thread');
const post = (message: ImportWorkerMessage) => port.postMessage(message);
const request = workerData as ImportWorkerRequest;

prepareDataset(request.known, request.format, request.path, request.options, (progress) => post({ type: 'progress', progress })).then(
  (prepared) => post({ type: 'done', prepared }),
  (error: unknown) => post(error instanceof FormatError
    ? { type: 'failed', file: error.file, message: error.detail }
    : { type: 'failed', file: null, message: error instanceof Error ? error.message : String(error) }),
);
