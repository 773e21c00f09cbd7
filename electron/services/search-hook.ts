/** Wires the search index into the Studio (filled in when the search service lands). */
import type { Studio } from './studio';

export function registerSearch(_studio: Studio): void {}
