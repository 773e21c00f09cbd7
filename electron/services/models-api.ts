/** The `models` service of the API (core/api/models-contract.ts) on the Studio: the model manager and switching. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError, type ApiImplementation } from '../../core/api/contract';
import type { ModelDetails, ProjectModelUsage } from '../../core/api/models-contract';
import { catalogue } from '../models/catalogue';
import { projectModelUsage } from '../models/usage';
import type { ModelEntry } from '../models';
import type { Studio } from './studio';

/** A model card larger than this is shown cut (cards are a few kB; a huge file must not reach the page whole). */
const maxCardBytes = 256 * 1024;

function readCard(dir: string): string | null {
  const path = join(dir, 'MODEL_CARD.md');
  if (!existsSync(path)) return null;
  const text = readFileSync(path, 'utf8');
  return statSync(path).size > maxCardBytes ? `${text.slice(0, maxCardBytes)}\n\n[…]` : text;
}

function details({ dir, ...record }: ModelEntry): ModelDetails {
  let card: string | null = null;
  try {
    card = readCard(dir);
  } catch {
    card = null; // an unreadable card hides the card, not the model
  }
  return { ...record, card };
}

export function modelsApi(studio: Studio): ApiImplementation['models'] {
  return {
    list: () => {
      studio.registry.refresh();
      return studio.registry.list().map(details);
    },
    usage: () => {
      const open = studio.current;
      const rows: ProjectModelUsage[] = [];
      if (open) {
        const embeddings = Object.fromEntries(open.embeddings.countsByModel().map(({ modelId, count }) => [modelId, count]));
        rows.push({ path: open.path, name: open.info().name, open: true, activeModelId: studio.modelId(), embeddings, error: null });
      }
      for (const recent of studio.recent()) {
        if (recent.path === open?.path || !recent.exists || recent.team) continue;
        rows.push(projectModelUsage(recent.path, studio.options.nativeBinding));
      }
      return rows;
    },
    catalogue: () => catalogue,
    add: ({ source, replace }) => studio.installs.start(source, replace ?? false).install,
    installs: () => studio.installs.list(),
    cancelInstall: ({ id }) => studio.installs.cancel(id),
    remove: async ({ id }) => {
      const entry = studio.registry.list().find((model) => model.id === id);
      if (!entry) throw new ApiError('model-missing', `no model "${id}" is installed`);
      if (entry.builtin) throw new ApiError('builtin', `${id} is built into the studio and cannot be removed`);
      if (studio.current && studio.modelId() === id) throw new ApiError('model-in-use', `the open project works with ${id}; switch it to another model first`);
      if (studio.switching()?.modelId === id) throw new ApiError('model-in-use', `the open project is switching to ${id}; cancel the switch first`);
      await studio.registry.remove(id);
    },
    active: () => studio.modelState(),
    use: ({ modelId }) => studio.useModel(modelId),
    removeEmbeddings: ({ modelId }) => ({ removed: studio.removeEmbeddings(modelId) }),
  };
}
