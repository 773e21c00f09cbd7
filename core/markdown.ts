/**
 * The small part of Markdown that model cards use (MODEL_CARD.md): headings, paragraphs, "-" lists, pipe tables
 * and indented or fenced code, with `code` spans inline. Parsed into blocks that the view renders as text nodes,
 * so a card can never inject markup.
 */
export type Inline = Array<{ code: boolean; text: string }>;
export type Block =
  | { kind: 'heading'; level: number; text: Inline }
  | { kind: 'paragraph'; text: Inline }
  | { kind: 'list'; items: Inline[] }
  | { kind: 'table'; header: Inline[] | null; rows: Inline[][] }
  | { kind: 'code'; text: string };

/** Text with `code` spans split out. */
export function inline(text: string): Inline {
  return text.split('`').map((part, index) => ({ code: index % 2 === 1, text: part })).filter((part) => part.text !== '');
}

const cells = (line: string) => line.trim().replace(/^\||\|$/g, '').split('|').map((cell) => inline(cell.trim()));
const isRule = (line: string) => /^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$/.test(line.trim());

export function parseMarkdown(source: string): Block[] {
  const lines = source.replace(/\r\n?/g, '\n').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length;) {
    const line = lines[i];
    if (!line.trim()) {
      i++;
    } else if (line.startsWith('```')) {
      const body: string[] = [];
      for (i++; i < lines.length && !lines[i].startsWith('```'); i++) body.push(lines[i]);
      blocks.push({ kind: 'code', text: body.join('\n') });
      i++;
    } else if (/^( {4}|\t)/.test(line)) {
      const body: string[] = [];
      for (; i < lines.length && (/^( {4}|\t)/.test(lines[i]) || !lines[i].trim()); i++) body.push(lines[i].replace(/^( {4}|\t)/, ''));
      blocks.push({ kind: 'code', text: body.join('\n').trimEnd() });
    } else if (/^#{1,6}\s/.test(line)) {
      const level = line.match(/^#+/)![0].length;
      blocks.push({ kind: 'heading', level, text: inline(line.slice(level).trim()) });
      i++;
    } else if (line.trim().startsWith('|')) {
      const rows: Inline[][] = [];
      let header: Inline[] | null = null;
      for (; i < lines.length && lines[i].trim().startsWith('|'); i++) {
        if (isRule(lines[i])) header = rows.pop() ?? null;
        else rows.push(cells(lines[i]));
      }
      // A header row of empty cells (the "| | |" idiom) is no header.
      blocks.push({ kind: 'table', header: header?.some((cell) => cell.length) ? header : null, rows });
    } else if (/^\s*[-*]\s/.test(line)) {
      const items: Inline[] = [];
      for (; i < lines.length && /^\s*[-*]\s/.test(lines[i]); i++) items.push(inline(lines[i].replace(/^\s*[-*]\s/, '')));
      blocks.push({ kind: 'list', items });
    } else {
      const body: string[] = [];
      for (; i < lines.length && lines[i].trim() && !/^(#{1,6}\s|\||```|\s*[-*]\s|( {4}|\t))/.test(lines[i]); i++) body.push(lines[i].trim());
      blocks.push({ kind: 'paragraph', text: inline(body.join(' ')) });
    }
  }
  return blocks;
}
