/**
 * Undo for annotations created in one batch on the main side (search accept, discovery label): one entry in the
 * dataset history (stores/history.ts, Ctrl+Z outside the editor). Undo removes the batch; redo adds the same
 * masks back (with new ids, which later undos then remove).
 */
import type { AnnotationRecord } from '../../../core/api/records';
import type { AcceptResult } from '../../../core/api/search-contract';
import { api } from '../api';
import { useHistoryStore } from '../stores/history';
import { useProjectStore } from '../stores/project';

export interface BatchHooks {
  /** The batch's annotations on these images were removed (undo). */
  undone?: (imageIds: number[]) => void;
  /** They were added back (redo), with these new ids. */
  redone?: (imageIds: number[], annotationIds: number[]) => void;
}

/** Records `created` as one undoable step labelled `label` (already translated). */
export function recordAnnotationBatch(label: string, created: AcceptResult, hooks: BatchHooks = {}): void {
  if (created.annotationIds.length === 0) return;
  const project = useProjectStore();
  let ids = created.annotationIds;
  let removed: AnnotationRecord[] = [];

  useHistoryStore().record({
    label,
    undo: async () => {
      // Read the masks first so redo can put them back; objects deleted since (in the editor) are left alone.
      const imageIds = [...new Set(created.imageIds)];
      const lists = await Promise.all(imageIds.map((imageId) => api.annotations.list({ imageId })));
      const wanted = new Set(ids);
      removed = lists.flat().filter((record) => wanted.has(record.id));
      if (removed.length > 0) await api.annotations.remove({ ids: removed.map((record) => record.id) });
      hooks.undone?.(imageIds);
      void project.refresh().catch(() => undefined);
    },
    redo: async () => {
      if (removed.length === 0) return;
      const added = await api.annotations.add({
        items: removed.map((record) => ({
          imageId: record.imageId, classId: record.classId, rle: record.rle, score: record.score, source: record.source,
        })),
      });
      ids = added.map((record) => record.id);
      hooks.redone?.([...new Set(added.map((record) => record.imageId))], ids);
      void project.refresh().catch(() => undefined);
    },
  });
}
