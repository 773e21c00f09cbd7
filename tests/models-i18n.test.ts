/** The Models view's strings exist in English and Russian alike (the same keys, the same placeholders). */
import { describe, expect, it } from 'vitest';
import en from '../renderer/src/i18n/en/models';
import ru from '../renderer/src/i18n/ru/models';

type Tree = { [key: string]: string | Tree };

function flatten(tree: Tree, prefix = ''): Record<string, string> {
  return Object.fromEntries(Object.entries(tree).flatMap(([key, value]) =>
    typeof value === 'string' ? [[`${prefix}${key}`, value]] : Object.entries(flatten(value, `${prefix}${key}.`))));
}

const placeholders = (text: string) => [...new Set(text.match(/\{\w+\}/g) ?? [])].sort();

describe('models strings', () => {
  it('has every English key in Russian with the same placeholders', () => {
    const english = flatten(en), russian = flatten(ru);
    expect(Object.keys(russian).sort()).toEqual(Object.keys(english).sort());
    for (const [key, text] of Object.entries(english)) expect([key, placeholders(russian[key])]).toEqual([key, placeholders(text)]);
  });
});
