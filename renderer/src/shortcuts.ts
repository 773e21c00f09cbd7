/**
 * The keyboard shortcuts every view offers, for the help overlay (press ?). Each view registers its own entries
 * here (the Annotate view adds its list with registerShortcuts); the handlers themselves live in the views.
 * `keys` is written with "Mod" for Ctrl (Cmd on macOS) and "+" between keys, e.g. "Mod+Shift+Z";
 * `description` is an i18n key.
 */
export type ShortcutView = 'global' | 'projects' | 'images' | 'annotate' | 'search' | 'models';

export interface Shortcut {
  keys: string;
  description: string;
  view: ShortcutView;
}

export const shortcuts: Shortcut[] = [
  { keys: '?', description: 'app.shortcuts.help', view: 'global' },
  { keys: 'Escape', description: 'app.shortcuts.close', view: 'global' },
  { keys: 'Mod+Z', description: 'app.shortcuts.undo', view: 'global' },
  { keys: 'Mod+Shift+Z', description: 'app.shortcuts.redo', view: 'global' },
  { keys: 'Alt+1', description: 'app.shortcuts.viewProjects', view: 'global' },
  { keys: 'Alt+2', description: 'app.shortcuts.viewImages', view: 'global' },
  { keys: 'Alt+3', description: 'app.shortcuts.viewAnnotate', view: 'global' },
  { keys: 'Alt+4', description: 'search.shortcuts.viewSearch', view: 'global' },
  { keys: 'Alt+5', description: 'models.shortcut', view: 'global' },
  { keys: 'Alt+T', description: 'team.open.shortcut', view: 'projects' },
  { keys: 'Up / Down', description: 'models.shortcutList', view: 'models' },
  { keys: 'Home / End', description: 'models.shortcutEnds', view: 'models' },
  { keys: 'Arrow keys', description: 'dataset.shortcuts.move', view: 'images' },
  { keys: 'Shift+Arrow keys', description: 'dataset.shortcuts.extend', view: 'images' },
  { keys: 'Home / End', description: 'dataset.shortcuts.homeEnd', view: 'images' },
  { keys: 'PageUp / PageDown', description: 'dataset.shortcuts.page', view: 'images' },
  { keys: 'Space', description: 'dataset.shortcuts.toggle', view: 'images' },
  { keys: 'Mod+Click', description: 'dataset.shortcuts.toggleClick', view: 'images' },
  { keys: 'Shift+Click', description: 'dataset.shortcuts.rangeClick', view: 'images' },
  { keys: 'Mod+A', description: 'dataset.shortcuts.selectAll', view: 'images' },
  { keys: 'Enter', description: 'dataset.shortcuts.open', view: 'images' },
  { keys: 'R', description: 'dataset.shortcuts.reviewed', view: 'images' },
  { keys: 'Shift+R', description: 'dataset.shortcuts.unreviewed', view: 'images' },
  { keys: 'Delete', description: 'dataset.shortcuts.remove', view: 'images' },
  { keys: 'E', description: 'dataset.shortcuts.embed', view: 'images' },
  { keys: 'O', description: 'search.shortcuts.discover', view: 'images' },
  { keys: 'G', description: 'dataset.shortcuts.augment', view: 'images' },
  { keys: 'I', description: 'dataset.shortcuts.import', view: 'images' },
  { keys: 'Shift+I', description: 'datasets.shortcuts.import', view: 'images' },
  { keys: 'X', description: 'datasets.shortcuts.export', view: 'images' },
  { keys: '/', description: 'dataset.shortcuts.search', view: 'images' },
  { keys: '+ / -', description: 'dataset.shortcuts.tileSize', view: 'images' },
  { keys: 'Escape', description: 'dataset.shortcuts.clear', view: 'images' },
];

/** Adds entries (skipping ones already present for the same keys and view). */
export function registerShortcuts(...items: Shortcut[]): void {
  for (const item of items) {
    if (!shortcuts.some((existing) => existing.keys === item.keys && existing.view === item.view)) shortcuts.push(item);
  }
}

export const isMac = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform);

/** "Mod+Shift+Z" as shown to the user: Ctrl or ⌘. */
export function formatKeys(keys: string): string {
  return keys.replace(/\bMod\b/g, isMac ? '⌘' : 'Ctrl');
}

/** Ctrl, or Cmd on macOS. */
export function hasMod(event: KeyboardEvent | MouseEvent): boolean {
  return isMac ? event.metaKey : event.ctrlKey;
}

/** True when keys typed go to a text field (global shortcuts must not steal them). */
export function isTyping(event: KeyboardEvent): boolean {
  const target = event.target as HTMLElement | null;
  if (!target) return false;
  const tag = target.tagName;
  return tag === 'TEXTAREA' || tag === 'SELECT' || target.isContentEditable
    || (tag === 'INPUT' && !['checkbox', 'radio', 'button', 'color', 'range'].includes((target as HTMLInputElement).type));
}
