/**
 * Which screen is showing. No router: five views and an image id. Kept in sessionStorage so a reload returns
 * to the same place (the project itself stays open on the main side). The search view's results live in memory
 * only, so a reload that was on it comes back to the images. The image id is one of the project it was saved
 * with: in any other project it is dropped.
 */
import { defineStore } from 'pinia';
import { ref, watch } from 'vue';
import { onProjectChange } from './projectScope';

export type ViewName = 'projects' | 'images' | 'annotate' | 'search' | 'models';
const storageKey = 'pixelwise.view';

interface Position {
  current: ViewName;
  imageId: number | null;
  /** The project the position is in; undefined when not known (nothing saved). */
  project?: string | null;
  restored: boolean;
}

function restore(): Position {
  try {
    const saved = JSON.parse(sessionStorage.getItem(storageKey) ?? 'null') as { current?: string; imageId?: unknown; project?: unknown } | null;
    const current = saved?.current;
    if (current === 'projects' || current === 'images' || current === 'annotate' || current === 'search' || current === 'models') {
      const imageId = typeof saved?.imageId === 'number' ? saved.imageId : null;
      const project = typeof saved?.project === 'string' ? saved.project : undefined;
      if (current === 'search') return { current: 'images', imageId, project, restored: true };
      return { current: current === 'annotate' && imageId === null ? 'images' : current, imageId, project, restored: true };
    }
  } catch {
    // A malformed entry is only a lost position; start on the projects view.
  }
  return { current: 'projects', imageId: null, restored: false };
}

export const useViewStore = defineStore('view', () => {
  const saved = restore();
  const current = ref<ViewName>(saved.current);
  /** The image the Annotate view shows (also the one the images grid scrolls to on return). */
  const imageId = ref<number | null>(saved.imageId);
  /** Whether this tab had a saved position (a reload) rather than starting fresh. */
  const restored = saved.restored;
  /** Where the Annotate view goes back to: the search results when an image was opened from them. */
  const returnTo = ref<'images' | 'search'>('images');
  let project = saved.project;

  watch([current, imageId], save);

  function save(): void {
    sessionStorage.setItem(storageKey, JSON.stringify({ current: current.value, imageId: imageId.value, project }));
  }

  // A reload finds the project it was in (the position stays); any other project starts on its images.
  onProjectChange((path) => {
    if (project !== undefined && path !== project) {
      imageId.value = null;
      returnTo.value = 'images';
      if (path && (current.value === 'annotate' || current.value === 'search')) current.value = 'images';
    }
    project = path;
    save();
  });

  function show(view: ViewName): void {
    if (view === 'annotate' && imageId.value === null) return;
    current.value = view;
  }

  function openImage(id: number, from: 'images' | 'search' = 'images'): void {
    imageId.value = id;
    returnTo.value = from;
    current.value = 'annotate';
  }

  /** One level up: annotate -> images (or the search results it came from) -> projects; search -> images; models -> projects. */
  function back(): void {
    if (current.value === 'annotate') current.value = returnTo.value;
    else current.value = current.value === 'search' ? 'images' : 'projects';
  }

  return { current, imageId, restored, returnTo, show, openImage, back };
});
