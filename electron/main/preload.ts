/**
 * Preload (sandboxed, context-isolated): exposes exactly one function per contract method, each on its own
 * IPC channel, and the blob URL base. Nothing else of Node or Electron reaches the page.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { ApiError, createApi } from '../../core/api/contract';

type Envelope = { ok: true; result: unknown } | { ok: false; error: { code: string; message: string } };

const api = createApi(async (service, method, input) => {
  const reply = (await ipcRenderer.invoke(`api:${service}.${method}`, input)) as Envelope;
  if (!reply.ok) throw new ApiError(reply.error.code, reply.error.message);
  return reply.result;
});

contextBridge.exposeInMainWorld('pixelwise', { api, blobBase: 'pixelwise://app/blob/' });
