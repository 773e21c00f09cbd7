/**
 * The editor's state as immutable snapshots and the undo/redo stack over them. Every change (a click, a brush
 * stroke, adding, deleting, reclassifying, hiding or reordering an object) produces a new snapshot; unchanged
 * objects are shared between snapshots, and masks are kept as COCO RLE strings, so a long history stays small.
 */
import type { AnnotationRecord } from '../../../core/api/records';
import type { Box, Click } from '../../../core/engine/types';
import type { Rle } from '../../../core/rle';

export interface ObjectState {
  /** Editor-local identity, stable across undo/redo (the database id changes when a deleted object comes back). */
  readonly uid: number;
  readonly classId: number | null;
  /** Image-sized mask, COCO compressed RLE. */
  readonly rle: Rle;
  readonly score: number | null;
  readonly visible: boolean;
  readonly source: AnnotationRecord['source'];
}

/** The object being built: clicks and box for the engine, plus brush additions and eraser removals on top. */
export interface DraftState {
  readonly clicks: readonly Click[];
  /** [x, y, width, height] in image pixels, or null. */
  readonly box: Box | null;
  /** The engine's mask for clicks + box; null before the first click. */
  readonly engine: Rle | null;
  readonly score: number | null;
  /** Pixels the brush added / the eraser removed (RLE), null when none. */
  readonly added: Rle | null;
  readonly erased: Rle | null;
  /** Brush and eraser strokes made on it (for the draft's summary). */
  readonly strokes: number;
}

export interface Snapshot {
  /** Drawing order: first drawn first (underneath). */
  readonly objects: readonly ObjectState[];
  readonly draft: DraftState | null;
  readonly selected: number | null;
}

export const emptySnapshot: Snapshot = Object.freeze({ objects: Object.freeze([]), draft: null, selected: null });

/** Whether a change should be autosaved: drafts and selection are editor-only, objects are the saved state. */
export function objectsChanged(before: Snapshot, after: Snapshot): boolean {
  if (before.objects.length !== after.objects.length) return true;
  return before.objects.some((object, index) => object !== after.objects[index]);
}

export class History {
  private past: Snapshot[] = [];
  private future: Snapshot[] = [];

  constructor(private present: Snapshot = emptySnapshot, private readonly limit = 500) {}

  get current(): Snapshot {
    return this.present;
  }

  get canUndo(): boolean {
    return this.past.length > 0;
  }

  get canRedo(): boolean {
    return this.future.length > 0;
  }

  /** Records a change; clears the redo stack. */
  push(next: Snapshot): Snapshot {
    if (next === this.present) return next;
    this.past.push(this.present);
    if (this.past.length > this.limit) this.past.shift();
    this.future = [];
    this.present = Object.freeze(next);
    return this.present;
  }

  /** Replaces the present without a history entry (selection changes). */
  replace(next: Snapshot): Snapshot {
    this.present = Object.freeze(next);
    return this.present;
  }

  undo(): Snapshot | null {
    const previous = this.past.pop();
    if (!previous) return null;
    this.future.push(this.present);
    this.present = previous;
    return previous;
  }

  redo(): Snapshot | null {
    const next = this.future.pop();
    if (!next) return null;
    this.past.push(this.present);
    this.present = next;
    return next;
  }

  reset(present: Snapshot): void {
    this.past = [];
    this.future = [];
    this.present = Object.freeze(present);
  }
}
