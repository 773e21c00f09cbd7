/** User preferences kept in localStorage: interface language and thumbnail size. */
import { defineStore } from 'pinia';
import { ref, watch } from 'vue';
import type { Language } from '../i18n/index';

const languageKey = 'pixelwise.language';
const tileSizeKey = 'pixelwise.tileSize';
export const tileSizes = [120, 160, 220] as const;

function initialLanguage(): Language {
  const saved = localStorage.getItem(languageKey);
  if (saved === 'en' || saved === 'ru') return saved;
  return navigator.language.toLowerCase().startsWith('ru') ? 'ru' : 'en';
}

function initialTileSize(): number {
  const saved = Number(localStorage.getItem(tileSizeKey));
  return (tileSizes as readonly number[]).includes(saved) ? saved : tileSizes[1];
}

export const useSettingsStore = defineStore('settings', () => {
  const language = ref<Language>(initialLanguage());
  /** Thumbnail tile edge in CSS pixels. */
  const tileSize = ref<number>(initialTileSize());

  watch(language, (value) => {
    localStorage.setItem(languageKey, value);
    document.documentElement.lang = value;
  }, { immediate: true });
  watch(tileSize, (value) => localStorage.setItem(tileSizeKey, String(value)));

  function setLanguage(value: Language): void {
    language.value = value;
  }

  function cycleTileSize(step: 1 | -1): void {
    const index = tileSizes.indexOf(tileSize.value as (typeof tileSizes)[number]);
    tileSize.value = tileSizes[Math.max(0, Math.min(tileSizes.length - 1, index + step))];
  }

  return { language, tileSize, setLanguage, cycleTileSize };
});
