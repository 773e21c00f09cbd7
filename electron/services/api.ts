/**
 * The API implementation: each contract method mapped onto the Studio and the open project, a project file's
 * (here) or a team project's (electron/team/studio-api.ts), chosen per call by which one is open.
 */
import { ApiError, type ApiImplementation, type PickPurpose } from '../../core/api/contract';
import type { Project } from '../../db/project';
import type { Studio } from './studio';
import { extname, resolve } from 'node:path';
import { formatIds } from '../../core/formats/types';
import { FormatError, LOSSES, openBundle } from '../formats';
import { gpuReport } from '../gpu/report';
import { searchServiceFor } from '../search/service';
import { SegmentService } from './segment';
import { modelsApi } from './models-api';
import { undoAugment } from '../augment/job';
import { teamApi } from '../team/studio-api';
import { exportPayload } from '../jobs/dataset-jobs';

export interface DialogProvider {
  pickPaths(purpose: PickPurpose): Promise<string[] | null>;
}

/**
 * An object's class must be one of the open project's. Checked before writing, so a stale id (a class removed
 * meanwhile, or one kept from another project: walkthrough problem 1) gets words a labeler understands instead
 * of "FOREIGN KEY constraint failed". (Images and mask sizes are checked by the annotation repository.)
 */
function assertClassesExist(project: Project, classIds: Array<number | null>): void {
  const known = new Set(project.classes.list().map((c) => c.id));
  const missing = classIds.find((id) => id !== null && !known.has(id));
  if (missing !== undefined) {
    throw new ApiError('class-missing', `the class of this object (id ${missing}) does not exist in this project; choose another class`);
  }
}

/**
 * A mask sent with a request must be its image's size; checked before anything is decoded, since decoding
 * allocates height x width bytes (audit F9: a 95-byte request naming 20000x20000 held the server for 8 s).
 */
function assertMaskFits(project: Project, imageId: number, rle: { size: [number, number] }): void {
  const image = project.images.get(imageId);
  if (!image) throw new ApiError('not-found', `image ${imageId} is not in this project`);
  const [height, width] = rle.size;
  if (height !== image.height || width !== image.width) {
    throw new ApiError('invalid-input', `the mask is ${width}x${height} but image ${imageId} is ${image.width}x${image.height}`);
  }
}

export function createApiImplementation(studio: Studio, dialogs: DialogProvider | null): ApiImplementation {
  const local = projectApi(studio, dialogs);
  // A call that was routed to the team project before it closed (a poll in flight) ends as on no project.
  const team = teamApi(() => {
    if (!studio.team) throw new ApiError('no-project', 'no project is open');
    return studio.team;
  }, local);
  return routed(() => (studio.team ? team : local), local);
}

/** The one switch: every method calls the same method of the implementation `pick` gives at the time of the call. */
function routed(pick: () => ApiImplementation, shape: ApiImplementation): ApiImplementation {
  type Services = Record<string, Record<string, (input: unknown) => unknown>>;
  const current = () => pick() as unknown as Services;
  return Object.fromEntries(Object.entries(shape as unknown as Services).map(([service, methods]) => [service, Object.fromEntries(
    Object.keys(methods).map((name) => [name, (input: unknown) => current()[service][name](input)]),
  )])) as unknown as ApiImplementation;
}

/** The API on a project file (and the calls that need no project). */
/** Accounts live on a team server; a project file has one labeler and none. */
function teamOnly(): never {
  throw new ApiError('team-only', 'accounts belong to a team project (a team server); this project is a file on this computer and has none');
}

function projectApi(studio: Studio, dialogs: DialogProvider | null): ApiImplementation {
  const project = () => studio.project;
  const segment = new SegmentService(project, () => studio.modelId());
  const search = () => searchServiceFor(project(), { defaultModelId: () => studio.modelId() });
  const mode = studio.options.mode === 'electron' ? 'electron' : 'web';

  return {
    system: {
      runtime: () => ({ ...studio.worker.runtime, defaultModelId: studio.modelId(), mode }),
      gpu: () => gpuReport(studio),
      pickPaths: ({ purpose }) => (dialogs ? dialogs.pickPaths(purpose) : null),
    },
    projects: {
      // A name without an extension gets the project's own (a file named "photos" is no project to anyone).
      create: async ({ path }) => (await studio.openProject(extname(path) ? path : `${path}.pixelwise`, true)).info(),
      open: async ({ path }) => (await studio.openProject(path, false)).info(),
      openSample: async () => (await studio.openSample()).info(),
      close: () => studio.closeProject(),
      current: () => studio.currentInfo(),
      recent: () => studio.recent(),
    },
    images: {
      import: ({ paths }) => studio.runner.enqueue('import', { paths }, 0),
      list: (query) => project().images.list(query),
      get: ({ id }) => {
        const image = project().images.get(id);
        if (!image) throw new ApiError('not-found', `no image ${id}`);
        return image;
      },
      neighbors: ({ id, status }) => project().images.neighbors(id, status),
      setReviewed: ({ ids, reviewed }) => project().transaction(() => project().images.setReviewed(ids, reviewed)),
      remove: ({ ids }) => project().transaction(() => project().images.remove(ids)),
    },
    classes: {
      list: () => project().classes.list(),
      create: ({ name, color }) => project().classes.create(name, color),
      update: ({ id, name, color }) => project().classes.update(id, { name, color }),
      remove: ({ id }) => project().classes.remove(id),
    },
    annotations: {
      list: ({ imageId }) => project().annotations.list(imageId),
      save: ({ imageId, annotations }) => {
        const p = project();
        assertClassesExist(p, annotations.map((a) => a.classId));
        p.transaction(() => {
          p.annotations.replace(imageId, annotations);
          p.images.refreshStatus(imageId);
        });
        return p.annotations.list(imageId);
      },
      add: ({ items }) => {
        const p = project();
        assertClassesExist(p, items.map((item) => item.classId));
        const ids = p.transaction(() => {
          const created = items.map(({ imageId, ...draft }) => p.annotations.add(imageId, draft));
          for (const imageId of new Set(items.map((item) => item.imageId))) p.images.refreshStatus(imageId);
          return created;
        });
        return ids.map((id) => p.annotations.get(id)!);
      },
      remove: ({ ids }) => {
        const p = project();
        p.transaction(() => {
          for (const imageId of p.annotations.remove(ids)) p.images.refreshStatus(imageId);
        });
      },
    },
    embeddings: {
      models: () => studio.registry.list().map(({ dir: _dir, ...record }) => record),
      start: ({ imageIds, modelId }) => studio.enqueueEmbed(imageIds ?? null, modelId),
    },
    jobs: {
      list: ({ activeOnly }) => studio.runner.list(activeOnly),
      cancel: ({ id }) => studio.runner.cancel(id),
    },
    segment: {
      clicks: (request) => segment.segment(request),
    },
    datasets: {
      formats: () => formatIds.map((format) => ({ id: format, losses: LOSSES[format] })),
      export: (input) => studio.runner.enqueue('dataset-export', exportPayload(input), 0),
      import: ({ format, path, ...options }) => studio.runner.enqueue('dataset-import', { format, path: resolve(path), options }, 0),
      openBundle: async ({ file, targetDir }) => {
        const opened = await openBundle(resolve(file), resolve(targetDir)).catch((error) => {
          throw error instanceof FormatError ? new ApiError('invalid-bundle', error.message) : error;
        });
        const info = (await studio.openProject(opened.projectPath, false)).info();
        return { ...info, missingImages: opened.missingImages, warnings: opened.warnings };
      },
    },
    search: {
      query: (input) => {
        for (const example of input.examples ?? []) if ('rle' in example) assertMaskFits(project(), example.imageId, example.rle);
        return search().search.query(input);
      },
      feedback: (input) => search().search.feedback(input),
      accept: (input) => {
        assertClassesExist(project(), [input.classId]);
        return search().search.accept(input);
      },
      hitMask: (input) => search().search.hitMask(input),
    },
    augment: {
      start: (input) => studio.enqueueAugment(input),
      undo: async ({ jobId }) => ({ removed: await undoAugment(project(), jobId) }),
    },
    discovery: {
      run: (input) => search().discovery.run(input),
      label: (input) => {
        assertClassesExist(project(), [input.classId]);
        return search().discovery.label(input);
      },
    },
    models: modelsApi(studio),
    // A project file has one labeler: nothing to lease.
    team: {
      open: ({ server, user, password }) => studio.openTeam(server, user, password),
      claim: () => ({ held: true, holder: null, until: null }),
      release: () => undefined,
      users: teamOnly,
      createUser: teamOnly,
      updateUser: teamOnly,
    },
  };
}
