import { describe, expect, it } from 'vitest';
import { parseMarkdown } from './markdown';

describe('model card markdown', () => {
  it('reads headings, tables without a header, paragraphs, lists and indented code as text blocks', () => {
    const blocks = parseMarkdown([
      '# Pixelwise (`unet`)', '', 'One line', 'and its continuation.', '', '| | |', '|---|---|', '| parameters | 1,272 |', '',
      '- first', '- `second`', '', 'Command:', '', '    python3 -m x --out y', '', '<script>alert(1)</script>',
    ].join('\n'));
    expect(blocks.map((block) => block.kind)).toEqual(['heading', 'paragraph', 'table', 'list', 'paragraph', 'code', 'paragraph']);
    expect(blocks[0]).toEqual({ kind: 'heading', level: 1, text: [{ code: false, text: 'Pixelwise (' }, { code: true, text: 'unet' }, { code: false, text: ')' }] });
    expect(blocks[1]).toMatchObject({ text: [{ text: 'One line and its continuation.' }] });
    expect(blocks[2]).toEqual({ kind: 'table', header: null, rows: [[[{ code: false, text: 'parameters' }], [{ code: false, text: '1,272' }]]] });
    expect(blocks[5]).toEqual({ kind: 'code', text: 'python3 -m x --out y' });
    // Markup stays text: the view renders every block through text interpolation.
    expect(blocks[6]).toMatchObject({ text: [{ text: '<script>alert(1)</script>' }] });
  });
});
