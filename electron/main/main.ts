/**
 * Electron main process: one hardened window over the same API the web mode serves. contextIsolation, sandbox,
 * no nodeIntegration, CSP from the page, navigation and new windows blocked, every IPC payload validated by the
 * contract's schema in dispatch().
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { app, BrowserWindow, dialog, ipcMain, protocol, shell } from 'electron';
import { parseBlobPath } from '../../core/api/blobs';
import { ApiError, contractMethods, dispatch } from '../../core/api/contract';
import { appRoot, outFile, rendererDir } from '../paths';
import { createApiImplementation, type DialogProvider } from '../services/api';
import { readBlob } from '../services/blobs';
import { registerSearch } from '../services/search-hook';
import { Studio } from '../services/studio';

protocol.registerSchemesAsPrivileged([{ scheme: 'pixelwise', privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

/** better-sqlite3 rebuilt for Electron's ABI by build/electron-native.mjs (Node's build stays for tests and the CLI). */
function nativeBinding(): string | undefined {
  const file = join(appRoot(), 'build', 'native', `electron-${process.versions.electron}`, 'better_sqlite3.node');
  return existsSync(file) ? file : undefined;
}

async function start(): Promise<void> {
  await app.whenReady();
  const studio = new Studio({ dataDir: app.getPath('userData'), mode: 'electron', nativeBinding: nativeBinding() });
  registerSearch(studio);
  let window: BrowserWindow | null = null;

  const dialogs: DialogProvider = {
    async pickPaths(purpose) {
      if (!window) return null;
      if (purpose === 'new-project') {
        const result = await dialog.showSaveDialog(window, { filters: [{ name: 'Pixelwise project', extensions: ['pixelwise'] }] });
        return result.canceled || !result.filePath ? [] : [result.filePath];
      }
      const properties: Array<'openFile' | 'openDirectory' | 'multiSelections'> =
        purpose === 'open-project' ? ['openFile'] : purpose === 'folder' ? ['openDirectory', 'multiSelections'] : ['openFile', 'multiSelections'];
      const filters = purpose === 'open-project' ? [{ name: 'Pixelwise project', extensions: ['pixelwise', 'sqlite', 'db'] }]
        : purpose === 'images' ? [{ name: 'Images', extensions: ['jpg', 'jpeg', 'png', 'bmp', 'webp', 'tif', 'tiff', 'gif'] }] : [];
      const result = await dialog.showOpenDialog(window, { properties, filters });
      return result.canceled ? [] : result.filePaths;
    },
  };
  const api = createApiImplementation(studio, dialogs);
  await reopenOrSample(studio);

  for (const [service, method] of contractMethods()) {
    ipcMain.handle(`api:${service}.${method}`, async (event, input: unknown) => {
      if (event.senderFrame?.url && !event.senderFrame.url.startsWith('file://')) {
        return { ok: false, error: { code: 'forbidden', message: 'untrusted sender' } };
      }
      try {
        return { ok: true, result: (await dispatch(api, service, method, input)) ?? null };
      } catch (error) {
        return { ok: false, error: { code: error instanceof ApiError ? error.code : 'internal', message: (error as Error).message } };
      }
    });
  }

  protocol.handle('pixelwise', async (request) => {
    const url = new URL(request.url);
    const blob = url.host === 'blob' ? parseBlobPath(url.pathname.slice(1) + url.search) : null;
    if (!blob) return new Response('not found', { status: 404 });
    try {
      const { contentType, body } = await readBlob(studio, blob);
      return new Response(Buffer.from(body), { headers: { 'content-type': contentType } });
    } catch (error) {
      return new Response((error as Error).message, { status: 404 });
    }
  });

  window = new BrowserWindow({
    width: 1400,
    height: 900,
    title: 'Pixelwise Studio',
    backgroundColor: '#16181d',
    webPreferences: { preload: outFile('preload.cjs'), contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true },
  });
  window.webContents.on('will-navigate', (event) => event.preventDefault());
  window.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url);
    return { action: 'deny' };
  });
  await window.loadFile(join(rendererDir(), 'index.html'));

  app.on('window-all-closed', () => {
    void studio.close().then(() => app.quit());
  });
}

/** Something to try at once: the last project if it still exists, else (first launch) the sample project. */
async function reopenOrSample(studio: Studio): Promise<void> {
  const last = studio.recent().find((entry) => entry.exists);
  try {
    if (last) await studio.openProject(last.path, false);
    else await studio.openSample();
  } catch {
    // The projects view shows what is wrong when the user opens it again; start without a project.
  }
}

void start();
