/**
 * User preferences kept in localStorage: interface language, thumbnail size, the click step, and where each project
 * exports to.
 */
import { defineStore } from 'pinia';
import { ref, watch } from 'vue';
import type { Language } from '../i18n/index';

const languageKey = 'pixelwise.language';
const tileSizeKey = 'pixelwise.tileSize';
const exportTargetsKey = 'pixelwise.exportTargets';
const clickStepKey = 'pixelwise.clickStep';
export const tileSizes = [120, 160, 220] as const;
/** How a click becomes a mask: the learned step (default) or the engine's hand-made formula (core/engine). */
export type ClickStep = 'learned' | 'engine';

/** The last export target of a project: a folder for the dataset formats, a .zip file for the bundle. */
export type ExportTargetKind = 'folder' | 'bundle';
type ExportTargets = Record<string, Partial<Record<ExportTargetKind, string>>>;

function initialLanguage(): Language {
  const saved = localStorage.getItem(languageKey);
  if (saved === 'en' || saved === 'ru') return saved;
  return navigator.language.toLowerCase().startsWith('ru') ? 'ru' : 'en';
}

function initialTileSize(): number {
  const saved = Number(localStorage.getItem(tileSizeKey));
  return (tileSizes as readonly number[]).includes(saved) ? saved : tileSizes[1];
}

function initialExportTargets(): ExportTargets {
  try {
    const saved = JSON.parse(localStorage.getItem(exportTargetsKey) ?? '{}') as unknown;
    return saved && typeof saved === 'object' && !Array.isArray(saved) ? saved as ExportTargets : {};
  } catch {
    return {}; // a malformed entry only forgets the folders
  }
}

export const useSettingsStore = defineStore('settings', () => {
  const language = ref<Language>(initialLanguage());
  /** Thumbnail tile edge in CSS pixels. */
  const tileSize = ref<number>(initialTileSize());
  const clickStep = ref<ClickStep>(localStorage.getItem(clickStepKey) === 'engine' ? 'engine' : 'learned');

  watch(language, (value) => {
    localStorage.setItem(languageKey, value);
    document.documentElement.lang = value;
  }, { immediate: true });
  watch(tileSize, (value) => localStorage.setItem(tileSizeKey, String(value)));
  watch(clickStep, (value) => localStorage.setItem(clickStepKey, value));

  function setLanguage(value: Language): void {
    language.value = value;
  }

  function cycleTileSize(step: 1 | -1): void {
    const index = tileSizes.indexOf(tileSize.value as (typeof tileSizes)[number]);
    tileSize.value = tileSizes[Math.max(0, Math.min(tileSizes.length - 1, index + step))];
  }

  /** By project path; kept for the most recent projects only. */
  let exportTargets = initialExportTargets();

  function exportTarget(project: string, kind: ExportTargetKind): string {
    const value = exportTargets[project]?.[kind];
    return typeof value === 'string' ? value : '';
  }

  function rememberExportTarget(project: string, kind: ExportTargetKind, target: string): void {
    const { [project]: previous, ...others } = exportTargets;
    // The project moves to the end (most recent); the oldest ones beyond 50 are forgotten.
    exportTargets = Object.fromEntries([...Object.entries(others).slice(-49), [project, { ...previous, [kind]: target }]]);
    localStorage.setItem(exportTargetsKey, JSON.stringify(exportTargets));
  }

  return { language, tileSize, clickStep, setLanguage, cycleTileSize, exportTarget, rememberExportTarget };
});
