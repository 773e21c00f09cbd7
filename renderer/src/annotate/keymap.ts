/**
 * The Annotate view's keyboard map, close to CVAT and labelme habits (D/A or PageDown/PageUp for the next and
 * previous image, N/Enter to finish an object, Esc to cancel, [ and ] for the brush, 1–9 for classes), and its
 * entries in the shortcut help (renderer/src/shortcuts.ts). docs/shortcuts.md lists the same table.
 */
import { type Shortcut, hasMod, registerShortcuts } from '../shortcuts';
import type { Tool } from '../stores/annotate';

export type Command =
  | { kind: 'finish' | 'cancel' | 'undo' | 'redo' | 'next' | 'previous' | 'grid' | 'fit' | 'remove' | 'hide' | 'save' | 'outline' }
  | { kind: 'opacity'; delta: number }
  | { kind: 'findSimilar' | 'addToQuery' }
  | { kind: 'tool'; tool: Tool }
  | { kind: 'brush'; factor: number }
  | { kind: 'class'; index: number }
  | { kind: 'zoom'; factor: number }
  | { kind: 'pan'; dx: number; dy: number; coarse: boolean }
  | { kind: 'cycle'; step: 1 | -1 };

const annotate = (keys: string, key: string): Shortcut => ({ keys, description: `annotate.keys.${key}`, view: 'annotate' });

export const annotateShortcuts: Shortcut[] = [
  annotate('Click', 'positive'),
  annotate('Right click / Shift+Click / Alt+Click', 'negative'),
  annotate('Mod+Click', 'select'),
  annotate('Enter / N', 'finish'),
  annotate('Escape', 'cancel'),
  annotate('C', 'toolClicks'),
  annotate('B', 'toolBox'),
  annotate('R', 'toolBrush'),
  annotate('E', 'toolEraser'),
  annotate('P', 'toolPolygon'),
  annotate('[ / ]', 'brushSize'),
  annotate('O', 'outline'),
  annotate('Shift+O / Alt+O', 'opacity'),
  annotate('1 … 9', 'classes'),
  annotate('Mod+Z', 'undo'),
  annotate('Mod+Shift+Z / Mod+Y', 'redo'),
  annotate('D / PageDown', 'next'),
  annotate('A / PageUp', 'previous'),
  annotate('G', 'grid'),
  annotate('+ / -', 'zoom'),
  annotate('Wheel', 'wheel'),
  annotate('0 / F', 'fit'),
  annotate('Arrow keys', 'pan'),
  annotate('Space+Drag / Middle drag', 'panDrag'),
  annotate('Delete / Backspace', 'remove'),
  annotate('H', 'hide'),
  annotate('Tab / Shift+Tab', 'cycle'),
  annotate('F6', 'focus'),
  annotate('Mod+S', 'save'),
  { keys: 'S', description: 'search.shortcuts.findSimilar', view: 'annotate' },
  { keys: 'Shift+S', description: 'search.shortcuts.addToQuery', view: 'annotate' },
];

registerShortcuts(...annotateShortcuts);

const panStep = 80;

/** The command a key press means in the Annotate view, or null for keys it leaves alone. */
export function commandFor(event: KeyboardEvent): Command | null {
  const key = event.key;
  const lower = key.length === 1 ? key.toLowerCase() : key;
  if (hasMod(event)) {
    if (lower === 'z') return { kind: event.shiftKey ? 'redo' : 'undo' };
    if (lower === 'y') return { kind: 'redo' };
    if (lower === 's') return { kind: 'save' };
    return null;
  }
  if (event.altKey) return lower === 'o' || event.code === 'KeyO' ? { kind: 'opacity', delta: -0.1 } : null; // Alt+digit switches views in the shell
  switch (lower) {
    case 'Enter': case 'n': return { kind: 'finish' };
    case 'Escape': return { kind: 'cancel' };
    case 'c': return { kind: 'tool', tool: 'clicks' };
    case 'b': return { kind: 'tool', tool: 'box' };
    case 'r': return { kind: 'tool', tool: 'brush' };
    case 'e': return { kind: 'tool', tool: 'eraser' };
    case 'p': return { kind: 'tool', tool: 'polygon' };
    case '[': return { kind: 'brush', factor: 1 / 1.25 };
    case ']': return { kind: 'brush', factor: 1.25 };
    case 'd': case 'PageDown': return { kind: 'next' };
    case 'a': case 'PageUp': return { kind: 'previous' };
    case 'g': return { kind: 'grid' };
    case '+': case '=': return { kind: 'zoom', factor: 1.25 };
    case '-': case '_': return { kind: 'zoom', factor: 1 / 1.25 };
    case '0': case 'f': return { kind: 'fit' };
    case 'ArrowLeft': return { kind: 'pan', dx: panStep, dy: 0, coarse: event.shiftKey };
    case 'ArrowRight': return { kind: 'pan', dx: -panStep, dy: 0, coarse: event.shiftKey };
    case 'ArrowUp': return { kind: 'pan', dx: 0, dy: panStep, coarse: event.shiftKey };
    case 'ArrowDown': return { kind: 'pan', dx: 0, dy: -panStep, coarse: event.shiftKey };
    case 'Delete': case 'Backspace': return { kind: 'remove' };
    case 'h': return { kind: 'hide' };
    case 'o': return event.shiftKey ? { kind: 'opacity', delta: 0.1 } : { kind: 'outline' };
    case 's': return { kind: event.shiftKey ? 'addToQuery' : 'findSimilar' };
    case 'Tab': return { kind: 'cycle', step: event.shiftKey ? -1 : 1 };
    default:
      if (/^[1-9]$/.test(key)) return { kind: 'class', index: Number(key) - 1 };
      return null;
  }
}
