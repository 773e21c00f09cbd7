/**
 * The Annotate view's side of similar-object search: the selected object (or the finished draft) becomes a query
 * example, and "Find similar" runs the query and shows the results. The editor's saves are flushed first, so the
 * example is the stored annotation (by id) and no pending save of this image can later overwrite hits accepted on it.
 */
import { computed } from 'vue';
import { useAnnotateStore } from '../stores/annotate';
import { type QueryExample, useSearchStore } from '../stores/search';
import { useViewStore } from '../stores/view';
import { useNoticesStore } from '../stores/notices';
import { useI18n } from '../i18n/index';

export function useSearchActions() {
  const annotate = useAnnotateStore();
  const search = useSearchStore();
  const view = useViewStore();
  const notices = useNoticesStore();
  const { t } = useI18n();

  /** Something to search for: a selected object, or a draft with a mask that Enter would finish. */
  const canUse = computed(() => annotate.imageId !== null && (annotate.selectedObject !== null || annotate.draft !== null));

  /** The selected object as an example (finishing the draft first when nothing is selected); null when none. */
  async function currentExample(): Promise<QueryExample | null> {
    const imageId = annotate.imageId, imageHash = annotate.image?.hash;
    if (imageId === null || !imageHash) return null;
    let object = annotate.selectedObject;
    if (!object && annotate.draft && annotate.commitDraft()) object = annotate.objects.at(-1) ?? null;
    if (!object) return null;
    if (!(await annotate.flushSaves())) {
      notices.error(t('annotate.save.leaveFailed'), annotate.saveError, 'save');
      return null;
    }
    const annotationId = annotate.savedIdOf(object.uid);
    return {
      example: annotationId !== undefined ? { annotationId } : { imageId, rle: object.rle },
      imageId, imageHash, rle: object.rle, classId: object.classId,
    };
  }

  /** Shift+S: the selected object joins the query (search runs later, from "Find similar"). */
  async function addToQuery(): Promise<void> {
    const example = await currentExample();
    if (!example) {
      notices.info(t('search.similar.selectFirst'));
      return;
    }
    notices.info(t(search.addExample(example) ? 'search.similar.added' : 'search.similar.alreadyAdded', { count: search.examples.length }));
  }

  /** S: the selected object joins the query and the search runs; the results view opens at once (with progress). */
  async function findSimilar(): Promise<void> {
    const example = await currentExample();
    if (example) search.addExample(example);
    if (search.examples.length === 0) {
      notices.info(t('search.similar.selectFirst'));
      return;
    }
    search.panel = 'similar';
    view.show('search');
    if (!(await search.run()) && search.error) notices.error(t('search.similar.failed'), search.error);
  }

  return { canUse, addToQuery, findSimilar };
}
