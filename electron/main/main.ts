/**
 * Electron main process: one hardened window over the same API the web mode serves. contextIsolation, sandbox,
 * no nodeIntegration, CSP from the page, navigation, new windows and webviews blocked, permissions denied unless
 * security.ts allows them, external links only to allowlisted hosts, every IPC payload validated by the
 * contract's schema in dispatch(). The packaged app's fuses (build/electron-builder.yml) turn off RunAsNode,
 * NODE_OPTIONS and --inspect and load the app only from its integrity-checked asar.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { app, BrowserWindow, dialog, ipcMain, protocol, session, shell } from 'electron';
import { parseBlobPath } from '../../core/api/blobs';
import { contractMethods, dispatch } from '../../core/api/contract';
import { toApiError } from '../services/errors';
import { appRoot, outFile, rendererDir } from '../paths';
import { createApiImplementation, type DialogProvider } from '../services/api';
import { blobErrorStatus, readBlob } from '../services/blobs';
import { Studio } from '../services/studio';
import { externalUrlAllowed, permissionAllowed } from './security';

protocol.registerSchemesAsPrivileged([{ scheme: 'pixelwise', privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

/** better-sqlite3 rebuilt for Electron's ABI by build/electron-native.mjs (Node's build stays for tests and the CLI). */
function nativeBinding(): string | undefined {
  const file = join(appRoot(), 'build', 'native', `electron-${process.versions.electron}`, 'better_sqlite3.node');
  return existsSync(file) ? file : undefined;
}

async function start(): Promise<void> {
  await app.whenReady();
  // Electron grants most permission requests (camera, microphone, notifications...) unless told otherwise.
  session.defaultSession.setPermissionRequestHandler((_contents, permission, callback, details) => {
    callback(permissionAllowed(permission, details.requestingUrl));
  });
  session.defaultSession.setPermissionCheckHandler((_contents, permission, requestingOrigin) => permissionAllowed(permission, requestingOrigin));
  app.on('web-contents-created', (_event, contents) => {
    contents.on('will-attach-webview', (event) => event.preventDefault());
  });
  const studio = new Studio({ dataDir: app.getPath('userData'), mode: 'electron', nativeBinding: nativeBinding() });
  let window: BrowserWindow | null = null;

  const dialogs: DialogProvider = {
    async pickPaths(purpose) {
      if (!window) return null;
      if (purpose === 'new-project' || purpose === 'bundle-save') {
        const filters = purpose === 'new-project' ? [{ name: 'Pixelwise project', extensions: ['pixelwise'] }] : [{ name: 'Project bundle', extensions: ['zip'] }];
        const result = await dialog.showSaveDialog(window, { filters });
        return result.canceled || !result.filePath ? [] : [result.filePath];
      }
      const properties: Array<'openFile' | 'openDirectory' | 'multiSelections'> =
        purpose === 'open-project' || purpose === 'bundle-open' ? ['openFile'] : purpose === 'folder' ? ['openDirectory', 'multiSelections'] : ['openFile', 'multiSelections'];
      const filters = purpose === 'open-project' ? [{ name: 'Pixelwise project', extensions: ['pixelwise', 'sqlite', 'db'] }]
        : purpose === 'images' ? [{ name: 'Images', extensions: ['jpg', 'jpeg', 'png', 'bmp', 'webp', 'tif', 'tiff', 'gif'] }]
          : purpose === 'bundle-open' ? [{ name: 'Project bundle', extensions: ['zip'] }] : [];
      const result = await dialog.showOpenDialog(window, { properties, filters });
      return result.canceled ? [] : result.filePaths;
    },
  };
  const api = createApiImplementation(studio, dialogs);
  await reopenOrSample(studio);

  for (const [service, method] of contractMethods()) {
    ipcMain.handle(`api:${service}.${method}`, async (event, input: unknown) => {
      if (!event.senderFrame?.url.startsWith('pixelwise://app/')) {
        return { ok: false, error: { code: 'forbidden', message: 'untrusted sender' } };
      }
      try {
        return { ok: true, result: (await dispatch(api, service, method, input)) ?? null };
      } catch (error) {
        const { code, message } = toApiError(error);
        return { ok: false, error: { code, message } };
      }
    });
  }

  // The renderer is served from pixelwise://app/ (a standard, secure origin, so module workers and CSP 'self' behave
  // as on the web), and its blobs from pixelwise://app/blob/ on the same origin.
  protocol.handle('pixelwise', async (request) => {
    const url = new URL(request.url);
    if (url.host !== 'app') return new Response('not found', { status: 404 });
    if (url.pathname.startsWith('/blob/')) {
      const blob = parseBlobPath(url.pathname.slice('/blob/'.length) + url.search);
      if (!blob) return new Response('not found', { status: 404 });
      try {
        const { status, contentType, body } = await readBlob(studio, blob);
        return new Response(status === 204 ? null : Buffer.from(body), { status, headers: { 'content-type': contentType } });
      } catch (error) {
        return new Response((error as Error).message, { status: blobErrorStatus(error) });
      }
    }
    const file = resolve(rendererDir(), `.${decodeURIComponent(url.pathname === '/' ? '/index.html' : url.pathname)}`);
    if (!file.startsWith(rendererDir() + sep)) return new Response('forbidden', { status: 403 });
    try {
      return new Response(await readFile(file), { headers: { 'content-type': contentTypeFor(file) } });
    } catch {
      return new Response('not found', { status: 404 });
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
  // The editor holds back unload while a save is pending; ask rather than lose work silently.
  window.webContents.on('will-prevent-unload', (event) => {
    const choice = dialog.showMessageBoxSync(window!, {
      type: 'warning', buttons: ['Leave without saving', 'Stay'], defaultId: 1, cancelId: 1,
      message: 'Some changes are not saved yet.', detail: 'Stay a moment to let the save finish.',
    });
    if (choice === 0) event.preventDefault();
  });
  window.webContents.setWindowOpenHandler(({ url }) => {
    if (externalUrlAllowed(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  await window.loadURL('pixelwise://app/index.html');

  app.on('window-all-closed', () => {
    void studio.close().then(() => app.quit());
  });
}

const contentTypes: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png', '.woff2': 'font/woff2' };
const contentTypeFor = (file: string) => contentTypes[extname(file)] ?? 'application/octet-stream';

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
