/**
 * Electron's security decisions as plain functions (no `electron` import, so they are unit-tested under Node):
 * which permission requests a page gets, and which links may leave the app for the system browser.
 */

/** The renderer's origin (pixelwise://app/, electron/main/main.ts). */
export const appOrigin = 'pixelwise://app';

/**
 * Permissions the studio's own page may use. It uses none today (no camera, microphone, notifications,
 * geolocation, clipboard reads, MIDI, HID, serial...); Electron would otherwise grant most of them by default.
 * A feature that needs one adds it here, for the app's origin only.
 */
const allowedPermissions: ReadonlySet<string> = new Set<string>();

/** Whether a permission request (or check) from `requestingUrl` is granted: denied unless listed above. */
export function permissionAllowed(permission: string, requestingUrl: string | undefined): boolean {
  if (!allowedPermissions.has(permission)) return false;
  try {
    // Custom schemes have an opaque origin in the URL API: compare scheme and host.
    const url = new URL(requestingUrl ?? '');
    return `${url.protocol}//${url.host}` === appOrigin;
  } catch {
    return false;
  }
}

/** Hosts whose pages the app links to (help for GPU setup); anything else stays inside, refused. */
const externalHosts: ReadonlySet<string> = new Set(['onnxruntime.ai', 'docs.nvidia.com', 'developer.nvidia.com']);

/** Whether `url` may be opened in the system browser: https, an allowlisted host, no credentials or odd port. */
export function externalUrlAllowed(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  return parsed.protocol === 'https:' && externalHosts.has(parsed.hostname) && !parsed.username && !parsed.password && !parsed.port;
}
