/**
 * The studio's API on a team project: the same contract as a project file's, answered by the team server through
 * the open TeamProject (electron/team/connection.ts). electron/services/api.ts routes every call here while a team
 * project is open. What the server has no call for is refused in one place (unsupportedOnTeam), in words that
 * say how to do it anyway (a local copy made with `pixelwise pull`).
 *
 * Claims: labelers and admins take the image's lease (leases.claim); a reviewer only reads and reviews, so their
 * claim is always held and takes no lease (a lease would lock the labeler out while the reviewer looks).
 *
 * Accounts (team.users, createUser, updateUser) are the server's users calls, for admins; the server keeps its
 * rules (password length, the last enabled admin) and says them.
 */
import { resolve } from 'node:path';
import { ApiError, type ApiImplementation } from '../../core/api/contract';
import type { AnnotationRecord, ClassRecord, ImagePage, ImageRecord, JobRecord } from '../../core/api/records';
import type { AcceptResult, SearchResult } from '../../core/api/search-contract';
import type { ImageClaim, TeamAccount } from '../../core/api/team-contract';
import type { AccountRecord, AccountUpdate, Lease, TaskCounts, UserRecord } from '../../db/store';
import { exportPayload } from '../jobs/dataset-jobs';
import type { TeamProject } from './connection';
import { exportTeamDataset } from './export';
import { uploadFiles } from './uploads';

/** Calls a team project does not offer, each with what it is in a labeler's words. */
export const unsupportedOnTeam = {
  images: { remove: 'Removing images' },
  datasets: { import: 'Importing a dataset' },
  discovery: { run: 'Object discovery', label: 'Object discovery' },
  augment: { start: 'Augment', undo: 'Augment' },
  models: { use: 'Switching the model', removeEmbeddings: 'Removing embeddings' },
} as const;

type Refused = { [S in keyof typeof unsupportedOnTeam]: { [M in keyof (typeof unsupportedOnTeam)[S]]: () => never } };

function refusals(): Refused {
  return Object.fromEntries(Object.entries(unsupportedOnTeam).map(([service, methods]) => [service, Object.fromEntries(
    Object.entries(methods).map(([name, what]) => [name, () => {
      throw new ApiError('team-unsupported', `${what} is not available on a team project; pull a local copy with \`pixelwise pull\``);
    }]),
  )])) as Refused;
}

/** An account as the studio shows it (the server's id stays on the server: accounts are named). */
const teamAccount = ({ name, role, disabled }: AccountRecord): TeamAccount => ({ name, role, disabled });

/** The embedding queue's job id in jobs.list (upload jobs count from 2). */
const queueJobId = 1;

/** The server's embedding queue as one job: done of all the tasks it holds, running while any wait. */
function queueJob(team: TeamProject, counts: TaskCounts): JobRecord | null {
  const total = counts.queued + counts.running + counts.done + counts.failed;
  if (total === 0) return null;
  const active = counts.queued + counts.running > 0;
  return {
    id: queueJobId, kind: 'embed', status: active ? 'running' : 'done', total, done: counts.done, failed: counts.failed, etaSeconds: null,
    error: null, result: null, createdAt: team.openedAt, finishedAt: active ? null : new Date().toISOString(),
  };
}

/**
 * `shared` is the project file's implementation: the calls that do not depend on the open project (the runtime,
 * opening projects, this computer's models) answer the same for both.
 */
export function teamApi(open: () => TeamProject, shared: ApiImplementation): ApiImplementation {
  const call = <T>(name: string, input: unknown = {}) => open().client.call<T>(name, input);
  const refused = refusals();
  const embedQueue = async () => queueJob(open(), await call<TaskCounts>('embeddings.status'));

  const ranked = (result: SearchResult) => {
    open().rememberImages(result.hits.map((hit) => ({ id: hit.imageId, hash: hit.imageHash })));
    return result;
  };

  async function claim(imageId: number): Promise<ImageClaim> {
    const team = open();
    if (team.team.role === 'reviewer') return { held: true, holder: null, until: null };
    try {
      const lease = await team.claim(imageId);
      return { held: true, holder: lease.userName, until: lease.expiresAt };
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 'leased')) throw error;
      const { lease } = await call<ImageRecord & { lease: Lease | null }>('images.get', { id: imageId });
      // Released between the two calls: the image is free again, so claim it.
      return lease ? { held: false, holder: lease.userName, until: lease.expiresAt } : claim(imageId);
    }
  }

  return {
    system: shared.system,
    projects: shared.projects,
    images: {
      ...refused.images,
      import: ({ paths }) => {
        if (open().team.role !== 'admin') {
          throw new ApiError('forbidden', `${open().team.user} is a ${open().team.role}; only an admin adds images to a team project`);
        }
        const team = open(), roots = paths.map((path) => resolve(path));
        return team.jobs.start('import', (job) => uploadFiles(team.client, job, roots));
      },
      list: async (query) => {
        const page = await call<ImagePage>('images.list', query);
        open().rememberImages(page.items);
        return page;
      },
      get: async ({ id }) => {
        const { lease: _lease, ...image } = await call<ImageRecord & { lease: unknown }>('images.get', { id });
        return open().rememberImages([image])[0];
      },
      neighbors: (input) => call('images.neighbors', input),
      setReviewed: async ({ ids, reviewed }) => {
        for (const imageId of ids) {
          await call(reviewed ? 'review.accept' : 'review.reject', { imageId, version: await open().reviewVersion(imageId) });
        }
      },
    },
    classes: {
      list: () => call<ClassRecord[]>('classes.list'),
      create: (input) => call<ClassRecord>('classes.create', input),
      update: (input) => call<ClassRecord>('classes.update', input),
      remove: (input) => call('classes.remove', input),
    },
    annotations: {
      list: ({ imageId }) => open().list(imageId),
      save: ({ imageId, annotations }) => open().save(imageId, annotations),
      add: async ({ items }) => {
        const created: AnnotationRecord[] = [];
        for (const imageId of new Set(items.map((item) => item.imageId))) {
          const drafts = items.filter((item) => item.imageId === imageId).map(({ imageId: _imageId, ...draft }) => draft);
          let before = new Set<number>();
          const saved = await open().update(imageId, (current) => {
            before = new Set(current.map((annotation) => annotation.id));
            return [...current, ...drafts];
          });
          created.push(...saved.annotations.filter((annotation) => !before.has(annotation.id)));
        }
        return created;
      },
      remove: async ({ ids }) => {
        const byImage = new Map<number, Set<number>>();
        for (const id of ids) {
          const imageId = open().imageOf(id);
          if (imageId === undefined) throw new ApiError('not-found', `object ${id} is not on an image listed in this session; reload the image and try again`);
          byImage.set(imageId, (byImage.get(imageId) ?? new Set()).add(id));
        }
        for (const [imageId, removed] of byImage) await open().update(imageId, (current) => current.filter((annotation) => !removed.has(annotation.id)));
      },
    },
    embeddings: {
      models: shared.embeddings.models,
      start: async ({ modelId }) => {
        await call('embeddings.start', { modelId: modelId ?? open().modelId });
        return (await embedQueue())!;
      },
    },
    jobs: {
      list: async ({ activeOnly }) => {
        const queue = await embedQueue();
        return [...(queue && (!activeOnly || queue.status === 'running') ? [queue] : []), ...open().jobs.list(activeOnly)];
      },
      cancel: ({ id }) => {
        if (id === queueJobId) throw new ApiError('team-unsupported', 'the embedding queue is the team server\'s, shared by everyone: it cannot be cancelled from a studio');
        open().jobs.cancel(id);
      },
    },
    segment: {
      clicks: ({ image, modelId, ...request }) => {
        if (typeof image !== 'number') throw new ApiError('invalid-input', 'on a team project, name the image by its id');
        return call('segment.clicks', { ...request, image, modelId: modelId ?? open().modelId });
      },
    },
    datasets: {
      ...refused.datasets,
      formats: shared.datasets.formats,
      openBundle: shared.datasets.openBundle,
      export: (input) => {
        const team = open();
        return team.jobs.start('dataset-export', (job) => exportTeamDataset(team.client, job, exportPayload(input), (id) => team.hashOf(id)));
      },
    },
    // The server holds the sessions (electron/team/search-sessions.ts says why); the hits' hashes make blob links,
    // and accepted objects' images are remembered so that annotations.remove undoes an accept as locally.
    search: {
      query: async (input) => ranked(await call<SearchResult>('search.query', { ...input, modelId: input.modelId ?? open().modelId })),
      feedback: async (input) => ranked(await call<SearchResult>('search.feedback', input)),
      hitMask: (input) => call('search.hitMask', input),
      accept: async (input) => {
        const result = await call<AcceptResult>('search.accept', input);
        open().rememberObjects(result.annotationIds.map((id, i) => [id, result.imageIds[i]]));
        return result;
      },
    },
    discovery: refused.discovery,
    augment: refused.augment,
    models: {
      ...shared.models,
      ...refused.models,
      active: () => ({ activeModelId: open().modelId, switching: null, stored: [] }),
    },
    team: {
      open: shared.team.open,
      claim: ({ imageId }) => claim(imageId),
      release: async ({ imageId }) => {
        if (open().team.role !== 'reviewer') await open().release(imageId);
      },
      users: async () => (await call<AccountRecord[]>('users.list')).map(teamAccount),
      createUser: async (input) => teamAccount({ ...(await call<UserRecord>('users.create', input)), disabled: false }),
      updateUser: async (input) => {
        const team = open().team;
        const own = input.name === team.user;
        if (own && input.role === 'worker') throw new ApiError('invalid-input', 'a worker account cannot use a studio: another admin can make yours one');
        const { user, endedSessions, freedLeases } = await call<AccountUpdate>('users.update', input);
        // The studio's idea of its own role follows (projects.current then offers what the new role may do).
        if (own && user.role !== 'worker') team.role = user.role;
        return { account: teamAccount(user), endedSessions, freedImages: freedLeases };
      },
    },
  };
}
