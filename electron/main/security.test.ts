/** Electron's permission and external-link decisions (the Electron binary cannot run here; these are plain functions). */
import { describe, expect, it } from 'vitest';
import { externalUrlAllowed, permissionAllowed } from './security';

describe('Electron security decisions', () => {
  it('denies every permission by default, from the app and from anywhere else', () => {
    const permissions = ['media', 'geolocation', 'notifications', 'midi', 'midiSysex', 'pointerLock', 'fullscreen', 'openExternal',
      'clipboard-read', 'clipboard-sanitized-write', 'display-capture', 'hid', 'serial', 'usb', 'idle-detection', 'a-future-permission'];
    for (const permission of permissions) {
      for (const url of ['pixelwise://app/index.html', 'https://evil.example/', 'file:///etc/passwd', 'not a url', undefined]) {
        expect(permissionAllowed(permission, url), `${permission} from ${url}`).toBe(false);
      }
    }
  });

  it('opens only https links to the allowlisted documentation hosts in the system browser', () => {
    expect(externalUrlAllowed('https://onnxruntime.ai/docs/execution-providers/CUDA-ExecutionProvider.html')).toBe(true);
    expect(externalUrlAllowed('https://docs.nvidia.com/cuda/')).toBe(true);
    for (const url of [
      'http://onnxruntime.ai/docs', 'https://evil.example/', 'https://onnxruntime.ai.evil.example/', 'https://evil.example/?https://onnxruntime.ai',
      'https://user:pass@onnxruntime.ai/', 'https://onnxruntime.ai:8443/', 'file:///etc/passwd', 'javascript:alert(1)',
      'smb://attacker/share', 'ms-msdt:/id', 'not a url',
    ]) {
      expect(externalUrlAllowed(url), url).toBe(false);
    }
  });
});
