/** The search scan thread of the team server (scan-pool.ts): scans the parts it is sent and answers each. */
import { parentPort } from 'node:worker_threads';
import { scanPart, type ScanWorkerMessage, type ScanWorkerRequest } from './scan-pool';

const port = parentPort!;
port.on('message', ({ id, part }: ScanWorkerRequest) => {
  let answer: ScanWorkerMessage;
  try {
    answer = { type: 'done', id, hits: scanPart(part) };
  } catch (error) {
    answer = { type: 'failed', id, message: (error as Error).message };
  }
  port.postMessage(answer);
});
port.postMessage({ type: 'ready' } satisfies ScanWorkerMessage);
