/**
 * A tiny i18n: `t('namespace.key.path', { name: 'x', count: 3 })`. Messages live in i18n/<lang>/<namespace>.ts,
 * one default-exported tree per file; English is the fallback for anything missing in another language.
 * Placeholders are `{name}`. A message with `|` holds plural forms chosen by the `count` parameter with
 * Intl.PluralRules (English: one|other; Russian: one|few|many|other), optionally preceded by a form for zero.
 */
import { computed } from 'vue';
import { useSettingsStore } from '../stores/settings';
import enApp from './en/app';
import enDataset from './en/dataset';
import enAnnotate from './en/annotate';
import enSearch from './en/search';
import enDatasets from './en/datasets';
import enModels from './en/models';
import enTeam from './en/team';
import ruApp from './ru/app';
import ruDataset from './ru/dataset';
import ruAnnotate from './ru/annotate';
import ruSearch from './ru/search';
import ruDatasets from './ru/datasets';
import ruModels from './ru/models';
import ruTeam from './ru/team';
import type { MessageTree } from './messages';

export const languages = ['en', 'ru'] as const;
export type Language = (typeof languages)[number];

export type MessageParams = Record<string, string | number>;

const messages: Record<Language, Record<string, MessageTree>> = {
  en: { app: enApp, dataset: enDataset, annotate: enAnnotate, search: enSearch, datasets: enDatasets, models: enModels, team: enTeam },
  ru: { app: ruApp, dataset: ruDataset, annotate: ruAnnotate, search: ruSearch, datasets: ruDatasets, models: ruModels, team: ruTeam },
};

const pluralOrder = ['zero', 'one', 'two', 'few', 'many', 'other'] as const;

function lookup(language: Language, key: string): string | undefined {
  let node: string | MessageTree | undefined = messages[language];
  for (const part of key.split('.')) {
    if (node === undefined || typeof node === 'string') return undefined;
    node = node[part];
  }
  return typeof node === 'string' ? node : undefined;
}

function choosePlural(language: Language, forms: string[], count: number): string {
  const rules = new Intl.PluralRules(language);
  const categories = rules.resolvedOptions().pluralCategories;
  const ordered = pluralOrder.filter((category) => categories.includes(category));
  // One form more than the language has categories: the first is for zero ("No selection").
  if (forms.length > ordered.length) {
    if (count === 0) return forms[0];
    forms = forms.slice(1);
  }
  const index = ordered.indexOf(rules.select(count));
  return forms[Math.min(index < 0 ? forms.length - 1 : index, forms.length - 1)];
}

/** Translates `key` for `language`; returns the key itself when no language has it (visible, greppable). */
export function translate(language: Language, key: string, params?: MessageParams): string {
  let text = lookup(language, key) ?? lookup('en', key);
  if (text === undefined) return key;
  if (text.includes('|') && typeof params?.count === 'number') {
    const forms = text.split('|');
    text = choosePlural(lookup(language, key) !== undefined ? language : 'en', forms, params.count);
  }
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

/**
 * Composable: `const { t, tOr, language } = useI18n()`; both re-render the caller when the language changes.
 * `tOr(key, fallback)` is for text that has its own English outside the messages (from the server, or a key name):
 * the translation where one exists, else `fallback`.
 */
export function useI18n() {
  const settings = useSettingsStore();
  const language = computed(() => settings.language);
  const t = (key: string, params?: MessageParams) => translate(settings.language, key, params);
  const tOr = (key: string, fallback: string) => {
    const text = t(key);
    return text === key ? fallback : text;
  };
  return { t, tOr, language };
}
