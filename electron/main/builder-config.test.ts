/**
 * The packaging configuration passes electron-builder's own schema check, and its fuses turn off what an attacker
 * with local access could use to run code inside the signed app (audit: Electron checklist item 19).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const require = createRequire(__filename);
const { load } = require('js-yaml') as { load(text: string): Record<string, unknown> };
const { validateConfiguration } = require('app-builder-lib/out/util/config/config') as {
  validateConfiguration(config: unknown, debugLogger: { isEnabled: boolean; add(): void }): Promise<void>;
};

const config = load(readFileSync(join(__dirname, '..', '..', 'build', 'electron-builder.yml'), 'utf8'));

describe('electron-builder configuration', () => {
  it('is valid for the installed electron-builder', async () => {
    await expect(validateConfiguration(config, { isEnabled: false, add() {} })).resolves.toBeUndefined();
  });

  it('flips the fuses: no RunAsNode, NODE_OPTIONS or --inspect; encrypted cookies; only the integrity-checked asar', () => {
    expect(config.electronFuses).toMatchObject({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableCookieEncryption: true,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
    });
    expect(config.asar).toBe(true);
  });
});
