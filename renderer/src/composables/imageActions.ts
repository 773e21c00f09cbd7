/**
 * What the toolbar buttons and the keyboard shortcuts of the images view do, in one place: embed, review flags
 * (undoable), remove (confirmed, not undoable: it drops annotations and embeddings), open, discover objects.
 */
import type { ImageRecord } from '../../../core/api/records';
import { api } from '../api';
import { useImagesStore } from '../stores/images';
import { useJobsStore } from '../stores/jobs';
import { useProjectStore } from '../stores/project';
import { useNoticesStore } from '../stores/notices';
import { useHistoryStore } from '../stores/history';
import { useViewStore } from '../stores/view';
import { useDiscoveryStore } from '../stores/discovery';
import { useSearchStore } from '../stores/search';
import { confirm } from './confirm';
import { useI18n } from '../i18n/index';

export function useImageActions() {
  const images = useImagesStore();
  const jobs = useJobsStore();
  const project = useProjectStore();
  const notices = useNoticesStore();
  const history = useHistoryStore();
  const view = useViewStore();
  const { t } = useI18n();

  async function embed(selectedOnly: boolean): Promise<void> {
    const imageIds = selectedOnly ? images.targetIds() : undefined;
    if (selectedOnly && imageIds?.length === 0) return;
    try {
      jobs.track(await api.embeddings.start({ imageIds }));
    } catch (cause) {
      notices.error(t('dataset.embed.failed'), cause);
    }
  }

  async function review(reviewed: boolean): Promise<void> {
    try {
      const count = await images.setReviewed(reviewed);
      void project.refresh().catch(() => undefined);
      if (count === 0) return;
      notices.info(t(reviewed ? 'dataset.images.markedReviewed' : 'dataset.images.markedUnreviewed', { count }), {
        label: t('app.undo'),
        run: () => void history.undo().then(() => project.refresh()).catch((cause) => notices.error(t('app.undoFailed'), cause)),
      });
    } catch (cause) {
      notices.error(t('dataset.images.reviewFailed'), cause);
    }
  }

  async function removeSelected(): Promise<void> {
    const ids = images.targetIds();
    if (ids.length === 0) return;
    const confirmed = await confirm({
      title: t('dataset.remove.title', { count: ids.length }),
      message: t('dataset.remove.message', { count: ids.length }),
      confirmLabel: t('dataset.remove.confirm', { count: ids.length }),
      cancelLabel: t('app.cancel'),
      danger: true,
    });
    if (!confirmed) return;
    try {
      await images.remove(ids);
      // Results shown elsewhere must not offer images that are gone.
      useSearchStore().forgetImages(ids);
      useDiscoveryStore().forgetImages(ids);
      notices.info(t('dataset.remove.done', { count: ids.length }));
    } catch (cause) {
      notices.error(t('dataset.remove.failed'), cause);
    }
    void project.refresh().catch(() => undefined);
  }

  /** Opens an image in the Annotate view; one that failed to import has nothing to show, so say why instead. */
  function open(item: ImageRecord | undefined): void {
    if (!item) return;
    if (item.status === 'failed' && !item.hash) {
      notices.error(t('dataset.images.cannotOpen', { name: item.fileName }), item.error ?? '');
      return;
    }
    view.openImage(item.id);
  }

  const openFocused = () => open(images.focused);

  /** Every image id in the current filter (discovery takes up to 20 000). */
  async function filteredIds(): Promise<number[]> {
    const ids: number[] = [];
    for (let offset = 0; offset < 20_000; offset += 1000) {
      const page = await api.images.list({ status: images.status ?? undefined, search: images.search || undefined, offset, limit: 1000 });
      ids.push(...page.items.map((item) => item.id));
      if (ids.length >= page.total || page.items.length === 0) break;
    }
    return ids.slice(0, 20_000);
  }

  /** Discovery over the selection (two or more images), else over every image in the filter; results in the search view. */
  async function discover(): Promise<void> {
    const discovery = useDiscoveryStore();
    const search = useSearchStore();
    // Too few embedded images for sure (the service would refuse): say so, and offer to embed the rest.
    const counts = project.info?.statusCounts;
    const embedded = counts ? counts.embedded + counts.annotated + counts.reviewed : 0;
    if (images.selectedCount < 2 && counts && embedded < 2 && (project.info?.imageCount ?? 0) >= 2) {
      const action = counts.new > 0 ? { label: t('dataset.embed.all', { count: counts.new }), run: () => void embed(false) } : undefined;
      notices.push({ kind: 'info', title: t('search.discovery.needEmbedded', { count: embedded, total: project.info?.imageCount ?? 0 }), detail: null, action }, 15_000);
      return;
    }
    try {
      const ids = images.selectedCount >= 2 ? [...images.selected] : await filteredIds();
      if (ids.length < 2) {
        notices.info(t('search.discovery.needTwo'));
        return;
      }
      search.panel = 'discovery';
      view.show('search');
      if (!(await discovery.run(ids)) && discovery.error) notices.error(t('search.discovery.failed'), discovery.error);
    } catch (cause) {
      notices.error(t('search.discovery.failed'), cause);
    }
  }

  return { embed, review, removeSelected, open, openFocused, discover };
}
