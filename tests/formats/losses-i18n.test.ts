/** Every caveat the export dialog shows has a Russian text: the dialog translates by key and falls back to English. */
import { describe, expect, it } from 'vitest';
import { LOSSES } from '../../core/formats/losses';
import ru from '../../renderer/src/i18n/ru/datasets';

function lookup(tree: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], tree);
}

describe('export caveats', () => {
  it('have unique keys within a format and a Russian text for each key', () => {
    for (const [format, losses] of Object.entries(LOSSES)) {
      expect(new Set(losses.map((loss) => loss.key)).size, format).toBe(losses.length);
      for (const loss of losses) expect(typeof lookup(ru, `lossText.${loss.key}`), `${format}: ${loss.key}`).toBe('string');
    }
  });

  it('mark exactly the polygon-only caveats of the formats that also write masks', () => {
    const polygonOnly = Object.entries(LOSSES).flatMap(([format, losses]) => losses.filter((loss) => loss.polygonsOnly).map(() => format));
    expect(new Set(polygonOnly)).toEqual(new Set(['coco', 'labelme']));
    for (const losses of Object.values(LOSSES)) for (const loss of losses) expect(loss.polygonsOnly === true, loss.key).toBe(loss.text.startsWith('Polygon mode'));
  });
});
