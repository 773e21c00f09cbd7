/**
 * The Annotate view's state: the open image, its objects and the object being built (as undoable snapshots, see
 * annotate/history.ts), the segmenter worker, tools and autosave. Masks are image-sized (image pixel coordinates);
 * large buffers live in shallowRefs and plain variables, never in deep reactivity.
 *
 * Read-only (`readOnly`): on a team project when someone else holds the image (annotate/claim.ts), when a save was
 * refused because someone else holds it, or for a reviewer. Every change of objects or of the object being built
 * goes through `apply`, which then refuses it; undo, redo and strokes check it before they start.
 */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef, watch } from 'vue';
import type { Box } from '../../../core/engine/types';
import type { Mask } from '../../../core/mask';
import { encodeRle } from '../../../core/rle';
import { type DraftState, History, type ObjectState, type Snapshot, emptySnapshot, objectsChanged } from '../annotate/history';
import { type Rect, draftMask, maskOf, rememberMask, unionRect } from '../annotate/paint';
import { type Stroke, draftStroke, extendStroke, isEmpty, layerRle, objectAt as findObjectAt, objectStroke } from '../annotate/strokes';
import { useClassesStore } from './classes';
import { SupersededError, useAnnotateEngine } from '../annotate/engine';
import { errorMessage } from './notices';
import { useAnnotateSaving } from '../annotate/saving';
import { onProjectChange, onProjectLeave } from './projectScope';
import { useProjectStore } from './project';
import { useImageClaim } from '../annotate/claim';
import { api } from '../api';

export type Tool = 'clicks' | 'box' | 'brush' | 'eraser' | 'polygon';
export const tools: readonly Tool[] = ['clicks', 'box', 'brush', 'eraser', 'polygon'];
export const brushSizes = { min: 1, max: 200 } as const;
/** Colour of the object being built before it has a class. */
export const draftColor = '#00d0ff';
export const fillOpacities = { min: 0, max: 1, step: 0.05 } as const;

/**
 * Colour of an object without a class: its own, from its uid (stable while the image is open, whatever is edited,
 * reordered or deleted), hues a golden angle apart so neighbours differ, kept away from the draft's cyan.
 */
export function instanceColor(uid: number): string {
  let hue = (uid * 137.508) % 360;
  if (Math.abs(hue - 192) < 24) hue = (hue + 60) % 360;
  const saturation = 0.85, lightness = 0.55;
  const a = saturation * Math.min(lightness, 1 - lightness);
  const channel = (n: number) => {
    const k = (n + hue / 30) % 12;
    return Math.round(255 * (lightness - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return `#${[channel(0), channel(8), channel(4)].map((value) => value.toString(16).padStart(2, '0')).join('')}`;
}

export const useAnnotateStore = defineStore('annotate', () => {
  const classes = useClassesStore();
  const snapshot = shallowRef<Snapshot>(emptySnapshot);
  const canUndo = ref(false);
  const canRedo = ref(false);
  const tool = ref<Tool>('clicks');
  const brushSize = ref(16);
  /** Mask fill opacity (0..1) and outline-only display (O): how masks are drawn, not what they are. */
  const fillOpacity = ref(0.45);
  const outlineOnly = ref(false);
  /** Class given to new objects (and set by the number keys). */
  const activeClassId = ref<number | null>(null);
  /** The mask in the editing layer: the draft's, or the object under a brush stroke. Never mutate it outside a stroke. */
  const activeMask = shallowRef<Mask | null>(null);
  /** Object hidden from the objects layer while a stroke edits it. */
  const activeUid = ref<number | null>(null);
  /** Bumped when activeMask changes; takeActiveDirty() says which part changed since the canvas last looked. */
  const activeRevision = ref(0);
  let pendingDirty: Rect | null = null;
  let fullRefresh = true;
  let history = new History();
  let stroke: Stroke | null = null;
  let nextUid = 1;

  const objects = computed(() => snapshot.value.objects);
  const draft = computed(() => snapshot.value.draft);
  const selected = computed(() => snapshot.value.selected);
  const selectedObject = computed(() => objects.value.find((object) => object.uid === selected.value) ?? null);

  const engine = useAnnotateEngine({ onSegmented: applySegmentation, draft: () => snapshot.value.draft });
  const saving = useAnnotateSaving({ dropClasses });
  const project = useProjectStore();
  const claims = useImageClaim({
    canDraw: () => project.capabilities.draw === null,
    onHeld: () => {
      if (saving.stoppedBy() === 'leased') void saving.resumeSaving();
    },
    stored: saving.whenStored,
  });
  // A save refused because someone else holds the image: ask who (and until when) for the banner.
  watch(saving.saveState, (state) => {
    if (state === 'leased') claims.recheck();
  });
  /** Why nothing here may change, or null: 'role' (a reviewer), 'held' (someone else holds the image), 'claiming'. */
  const readOnlyReason = computed<'role' | 'held' | 'claiming' | null>(() => {
    if (project.capabilities.draw !== null) return 'role';
    const claim = claims.claim.value;
    if ((claim && !claim.held) || saving.saveState.value === 'leased') return 'held';
    // A team project's image is not changed before the server said it is ours (a project file always says so).
    if (!claim && project.team !== null && engine.imageId.value !== null) return 'claiming';
    return null;
  });
  const readOnly = computed(() => readOnlyReason.value !== null);
  // The class of new objects is a class of this project: none after a switch, none once it is deleted.
  onProjectChange(() => (activeClassId.value = null));
  watch(() => classes.byId, (byId) => {
    if (activeClassId.value !== null && !byId.has(activeClassId.value)) activeClassId.value = null;
  });
  // Before the project closes or changes: the object being built is kept and everything is stored.
  onProjectLeave(async () => {
    commitDraft();
    const stored = await saving.flushAll();
    await claims.leave();
    return stored;
  });

  function colorOf(classId: number | null): string {
    return (classId !== null && classes.byId.get(classId)?.color) || draftColor;
  }

  /** Fill opacity within its range, in its steps; a fill makes no sense in outline-only mode, so it ends it. */
  function setFillOpacity(value: number): void {
    const { min, max, step } = fillOpacities;
    fillOpacity.value = Math.min(max, Math.max(min, Math.round(value / step) * step));
    outlineOnly.value = false;
  }

  /** The class's colour, or for an object without a class its own (instanceColor). */
  function objectColor(object: ObjectState): string {
    const color = object.classId !== null ? classes.byId.get(object.classId)?.color : undefined;
    return color ?? instanceColor(object.uid);
  }

  const activeColor = computed(() => {
    const uid = activeUid.value;
    const object = uid === null ? null : objects.value.find((item) => item.uid === uid);
    return object ? objectColor(object) : colorOf(activeClassId.value);
  });

  function size(): [number, number] {
    const image = engine.image.value;
    if (!image) throw new Error('no image open');
    return [image.width, image.height];
  }

  /** Shows `mask` in the editing layer; `dirty` when only that rectangle of the same mask changed. */
  function setActive(mask: Mask | null, dirty: Rect | null = null): void {
    activeMask.value = mask;
    if (dirty && !fullRefresh) {
      pendingDirty = pendingDirty ? unionRect(pendingDirty, dirty) : dirty;
    } else {
      fullRefresh = true;
      pendingDirty = null;
    }
    activeRevision.value++;
  }

  /** The rectangle to repaint since the last call, or null for all of it (several strokes may share one frame). */
  function takeActiveDirty(): Rect | null {
    const dirty = fullRefresh ? null : pendingDirty;
    fullRefresh = false;
    pendingDirty = null;
    return dirty;
  }

  /** The draft's visible mask; while the engine works on new clicks the previous mask stays on screen. */
  function refreshActive(previous: DraftState | null, next: DraftState | null): void {
    if (previous === next && activeMask.value) return;
    if (!next) return setActive(null);
    const pending = next.engine === null && (next.clicks.length > 0 || next.box !== null);
    if (pending && !next.added && !next.erased) return;
    if (next.engine && !next.added && !next.erased) return setActive(maskOf(next.engine));
    const [width, height] = size();
    setActive(draftMask(next, width, height));
  }

  /**
   * Makes `next` current: a history entry when `record`, autosave when the objects changed (unless `save` is false:
   * they are what is stored). Read-only, only the selection may change.
   */
  function apply(next: Snapshot, record = true, save = true): void {
    const previous = snapshot.value;
    if (readOnly.value && (next.objects !== previous.objects || next.draft !== previous.draft)) return;
    snapshot.value = record ? history.push(next) : history.replace(next);
    afterChange(previous, save);
  }

  function afterChange(previous: Snapshot, save = true): void {
    canUndo.value = history.canUndo;
    canRedo.value = history.canRedo;
    refreshActive(previous.draft, snapshot.value.draft);
    if (save && objectsChanged(previous, snapshot.value)) saving.scheduleSave(snapshot.value.objects);
    engine.ensureSegmented(snapshot.value.draft);
  }

  /** Worker answer for `forDraft`: fills in its engine mask if that draft is still the current one. */
  function applySegmentation(forDraft: DraftState, rle: DraftState['engine'], mask: Mask, score: number): void {
    const current = snapshot.value;
    if (current.draft !== forDraft || !rle) return;
    rememberMask(rle, mask);
    apply({ ...current, draft: { ...forDraft, engine: rle, score } }, false);
  }

  /** Starts over with `stored` objects, no draft and an empty history. */
  function reset(stored: ObjectState[]): void {
    history = new History({ objects: stored, draft: null, selected: null });
    snapshot.value = history.current;
    canUndo.value = false;
    canRedo.value = false;
    stroke = null;
    activeUid.value = null;
    setActive(null);
  }

  function newUid(): number {
    return nextUid++;
  }

  let opening = 0;
  const loadError = ref<string | null>(null);

  /**
   * Opens image `id`. The previous image's finished draft becomes an object and its unsaved changes keep saving
   * in the background, so nothing is lost by moving on.
   */
  async function open(id: number): Promise<void> {
    const mine = ++opening;
    commitDraft();
    saving.detachSaver();
    claims.take(id);
    reset([]);
    loadError.value = null;
    try {
      const records = await engine.load(id);
      if (mine !== opening) return;
      const stored: ObjectState[] = records.map((record) => ({
        uid: newUid(), classId: record.classId, rle: record.rle, score: record.score, visible: record.visible, source: record.source,
      }));
      const unsaved = saving.startSaving(id, new Map(stored.map((object, index) => [object.uid, records[index].id])));
      reset(unsaved ? [...unsaved] : stored);
    } catch (error) {
      if (mine !== opening || error instanceof SupersededError) return;
      loadError.value = errorMessage(error);
    }
  }

  /** The editor closes: commit the draft, free the worker; saving goes on in the background. */
  function close(): void {
    opening++;
    commitDraft();
    saving.detachSaver();
    void claims.leave();
    engine.closeEngine();
    reset([]);
  }

  const emptyDraft: DraftState = { clicks: [], box: null, engine: null, score: null, added: null, erased: null, strokes: 0 };

  function addClick(x: number, y: number, positive: boolean): void {
    if (engine.engineState.value !== 'ready' || stroke) return;
    const base = snapshot.value.draft ?? emptyDraft;
    apply({ ...snapshot.value, draft: { ...base, clicks: [...base.clicks, { x, y, positive }], engine: null, score: null } });
  }

  /** `box` is [x, y, width, height] in image pixels. */
  function setBox(box: Box): void {
    if (engine.engineState.value !== 'ready' || stroke || box[2] < 2 || box[3] < 2) return;
    const base = snapshot.value.draft ?? emptyDraft;
    apply({ ...snapshot.value, draft: { ...base, box, engine: null, score: null } });
  }

  /** Enter/N: the draft becomes a new object (of the active class) and a fresh draft starts. */
  function commitDraft(): boolean {
    const current = snapshot.value;
    const built = current.draft;
    const mask = activeMask.value;
    if (!built || !mask || stroke || activeUid.value !== null) return false;
    if (built.engine === null && (built.clicks.length > 0 || built.box)) return false; // still segmenting
    if (isEmpty(mask)) {
      cancelDraft();
      return false;
    }
    const rle = built.engine && !built.added && !built.erased ? built.engine : encodeRle(mask);
    rememberMask(rle, mask);
    const source = built.clicks.length > 0 || built.box ? 'clicks' : 'manual';
    const object: ObjectState = { uid: newUid(), classId: activeClassId.value, rle, score: built.score, visible: true, source };
    // Nothing selected afterwards: the next click, box or brush stroke starts the next object.
    apply({ objects: [...current.objects, object], draft: null, selected: null });
    return true;
  }

  function cancelDraft(): boolean {
    if (!snapshot.value.draft || stroke) return false;
    apply({ ...snapshot.value, draft: null });
    return true;
  }

  function updateObject(uid: number, change: (object: ObjectState) => ObjectState | null): void {
    const current = snapshot.value;
    const index = current.objects.findIndex((object) => object.uid === uid);
    if (index < 0) return;
    const changed = change(current.objects[index]);
    const next = [...current.objects];
    if (changed) next[index] = changed;
    else next.splice(index, 1);
    apply({ ...current, objects: next, selected: changed || current.selected !== uid ? current.selected : null });
  }

  function select(uid: number | null): void {
    if (snapshot.value.selected === uid) return;
    apply({ ...snapshot.value, selected: uid }, false);
  }

  /** Classes that no longer exist (see annotate/saving.ts): objects of them get none, without an undo step. */
  function dropClasses(gone: ReadonlySet<number>): void {
    if (activeClassId.value !== null && gone.has(activeClassId.value)) activeClassId.value = null;
    const current = snapshot.value;
    const stale = (object: ObjectState) => object.classId !== null && gone.has(object.classId);
    if (!current.objects.some(stale)) return;
    apply({ ...current, objects: current.objects.map((object) => (stale(object) ? { ...object, classId: null } : object)) }, false);
  }

  /**
   * Ctrl+Click, in every tool: the object under image pixel (x, y) becomes the selected one (none over the
   * background). An object being built is finished first, so the next brush stroke goes to the selected object.
   */
  function selectAt(x: number, y: number): void {
    if (stroke) return;
    if (snapshot.value.draft) commitDraft();
    select(objectAt(x, y)?.uid ?? null);
  }

  const setClass = (uid: number, classId: number | null) => updateObject(uid, (object) => ({ ...object, classId }));
  const toggleVisible = (uid: number) => updateObject(uid, (object) => ({ ...object, visible: !object.visible }));
  const removeObject = (uid: number) => updateObject(uid, () => null);

  /** Moves an object `delta` places in the drawing order (+1 = drawn later, on top). */
  function moveObject(uid: number, delta: number): void {
    const current = snapshot.value;
    const index = current.objects.findIndex((object) => object.uid === uid);
    const target = index + delta;
    if (index < 0 || target < 0 || target >= current.objects.length) return;
    const next = [...current.objects];
    const [moved] = next.splice(index, 1);
    next.splice(target, 0, moved);
    apply({ ...current, objects: next });
  }

  /** Replaces an object's mask (polygon vertex edits re-rasterise into a new mask); an empty mask deletes it. */
  function replaceMask(uid: number, mask: Mask): void {
    const rle = encodeRle(mask);
    rememberMask(rle, mask);
    updateObject(uid, (object) => (isEmpty(mask) ? null : { ...object, rle, source: 'manual' }));
  }

  /** Number keys: the n-th class (0-based) for the selected object and for new objects. */
  function assignClassByIndex(index: number): void {
    const chosen = classes.items[index];
    if (!chosen) return;
    activeClassId.value = chosen.id;
    if (selected.value !== null && !snapshot.value.draft) setClass(selected.value, chosen.id);
  }

  /** Topmost visible object covering image pixel (x, y). */
  function objectAt(x: number, y: number): ObjectState | null {
    return findObjectAt(objects.value, x, y);
  }

  /**
   * Brush (value 1) or eraser (value 0) stroke from image pixel (x, y). Edits the draft when there is one, else
   * the selected object, else (brush only) starts a drawn draft.
   */
  function beginStroke(x: number, y: number, value: 0 | 1): void {
    if (stroke || !engine.image.value || readOnly.value) return;
    const current = snapshot.value;
    const object = current.draft ? null : selectedObject.value;
    if (object) {
      stroke = objectStroke(object, value, [x, y]);
      activeUid.value = object.uid;
    } else {
      if (!current.draft && value === 0) return;
      stroke = draftStroke(current.draft, activeMask.value, ...size(), value, [x, y]);
    }
    strokeTo(x, y);
  }

  function strokeTo(x: number, y: number): void {
    if (!stroke) return;
    const rect = extendStroke(stroke, x, y, brushSize.value / 2);
    setActive(stroke.display, activeMask.value === stroke.display ? rect : null);
  }

  function endStroke(): void {
    const finished = stroke;
    if (!finished) return;
    stroke = null;
    if (finished.target === 'draft') {
      const base = snapshot.value.draft ?? emptyDraft;
      setActive(finished.display);
      apply({ ...snapshot.value, draft: { ...base, added: layerRle(finished.added), erased: layerRle(finished.erased), strokes: base.strokes + 1 } });
    } else {
      activeUid.value = null;
      replaceMask(finished.target, finished.display);
      refreshActive(null, snapshot.value.draft);
    }
  }

  function undo(): void {
    if (stroke || readOnly.value) return;
    const previous = snapshot.value;
    const restored = history.undo();
    if (!restored) return;
    snapshot.value = restored;
    afterChange(previous);
  }

  function redo(): void {
    if (stroke || readOnly.value) return;
    const previous = snapshot.value;
    const restored = history.redo();
    if (!restored) return;
    snapshot.value = restored;
    afterChange(previous);
  }

  /** Conflict, Load their version: the stored objects replace the shown ones; the labeler's stay one Undo away. */
  async function loadTheirs(): Promise<void> {
    const id = engine.imageId.value;
    if (id === null) return;
    commitDraft();
    const records = await api.annotations.list({ imageId: id });
    if (engine.imageId.value !== id) return;
    const stored: ObjectState[] = records.map((record) => ({
      uid: newUid(), classId: record.classId, rle: record.rle, score: record.score, visible: record.visible, source: record.source,
    }));
    saving.adoptStored(new Map(stored.map((object, index) => [object.uid, records[index].id])));
    apply({ objects: stored, draft: null, selected: null }, true, false);
  }

  /**
   * Conflict, Keep mine: the shown objects are saved over the stored ones (true when they are). The main side
   * bases a save on the version last listed, so the stored objects are listed first; those of ours they still
   * hold keep their ids, the others are written anew.
   */
  async function keepMine(): Promise<boolean> {
    const id = engine.imageId.value;
    if (id === null) return false;
    const stored = await api.annotations.list({ imageId: id });
    if (engine.imageId.value !== id) return false;
    return saving.resumeSaving(new Set(stored.map((record) => record.id)));
  }

  return {
    readOnly, readOnlyReason, claim: claims.claim, claimError: claims.claimError, recheckClaim: claims.recheck, releaseWithPage: claims.leaveWithPage, loadTheirs, keepMine,
    snapshot, objects, draft, selected, selectedObject, canUndo, canRedo, tool, brushSize, activeClassId, fillOpacity, outlineOnly,
    activeMask, activeUid, activeRevision, activeColor, takeActiveDirty, colorOf, objectColor, setFillOpacity,
    loadError, open, close, addClick, setBox, commitDraft, cancelDraft, select, selectAt, setClass, toggleVisible, removeObject, moveObject,
    replaceMask, assignClassByIndex, objectAt, beginStroke, strokeTo, endStroke, undo, redo,
    isStroking: () => stroke !== null,
    ...engine, ...saving,
  };
});
