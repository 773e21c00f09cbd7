/**
 * The one typed API between the renderer and the main side. Each service is a map of methods; each method has
 * a zod schema for its single input object (validated in main for every call, whatever the transport) and a
 * phantom output type. Electron exposes one IPC channel per method; web mode one HTTP route per method.
 */
import { z } from 'zod';
import type {
  AnnotationRecord, ClassRecord, GpuDiagnosis, ImagePage, ImageRecord, JobRecord, ModelRecord, ProjectInfo, RecentProject,
  RuntimeInfo,
} from './records';
import { imageStatuses } from './records';
import type { Rle } from '../rle';
import { type FormatId, formatIds } from '../formats/types';
import type { FormatLoss } from '../formats/losses';

import { type Method, method } from './method';
import { searchContract } from './search-contract';
import { modelsContract } from './models-contract';
import { augmentContract } from './augment-contract';
import { teamContract } from './team-contract';

const id = z.number().int().positive();
const path = z.string().min(1).max(4096);
const rle = z.object({
  size: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  counts: z.string(),
});
const color = z.string().regex(/^#[0-9a-fA-F]{6}$/);
const point = z.tuple([z.number(), z.number(), z.union([z.literal(0), z.literal(1)])]);
const none = z.object({}).strict().optional();

export const annotationDraftSchema = z.object({
  id: id.optional(),
  classId: id.nullable(),
  rle,
  score: z.number().nullable().optional(),
  order: z.number().int().optional(),
  visible: z.boolean().optional(),
  source: z.enum(['manual', 'clicks', 'search', 'discovery', 'import']).optional(),
});

export const segmentRequestSchema = z.object({
  /** Image id, or the image's path as imported. */
  image: z.union([id, z.string().min(1)]),
  /** [x, y, 1 = positive | 0 = negative], x and y in image pixels. */
  clicks: z.array(point).max(200),
  box: z.tuple([z.number(), z.number(), z.number(), z.number()]).optional(),
  modelId: z.string().optional(),
});
export type SegmentRequest = z.infer<typeof segmentRequestSchema>;
export interface SegmentResult {
  rle: Rle;
  score: number;
  /** Engine time, milliseconds, excluding loading the embedding. */
  ms: number;
}

/** What a native file dialog is for: its kind (open, save, folder) and file filter follow from it. */
export const pickPurposes = ['open-project', 'new-project', 'images', 'folder', 'bundle-open', 'bundle-save'] as const;
export type PickPurpose = (typeof pickPurposes)[number];

export const contract = {
  system: {
    runtime: method<RuntimeInfo>()(none),
    /** Which execution provider runs and, when CUDA does not, why (each finding with its fix). */
    gpu: method<GpuDiagnosis>()(none),
    /** Native file dialog; null where there is none (web mode: the renderer asks for a typed path). */
    pickPaths: method<string[] | null>()(z.object({ purpose: z.enum(pickPurposes) })),
  },
  projects: {
    create: method<ProjectInfo>()(z.object({ path })),
    open: method<ProjectInfo>()(z.object({ path })),
    /** Creates (once) and opens the bundled sample project in the user's data folder. */
    openSample: method<ProjectInfo>()(none),
    close: method<void>()(none),
    current: method<ProjectInfo | null>()(none),
    recent: method<RecentProject[]>()(none),
  },
  images: {
    /** Files and folders (recursive); runs as a job. */
    import: method<JobRecord>()(z.object({ paths: z.array(path).min(1).max(100_000) })),
    list: method<ImagePage>()(z.object({
      status: z.enum(imageStatuses).optional(),
      search: z.string().max(200).optional(),
      offset: z.number().int().min(0).default(0),
      limit: z.number().int().min(1).max(1000).default(200),
    })),
    get: method<ImageRecord>()(z.object({ id })),
    /** Ids of the images before and after `id` in the list order (filtered like `list`). */
    neighbors: method<{ previous: number | null; next: number | null }>()(z.object({ id, status: z.enum(imageStatuses).optional() })),
    setReviewed: method<void>()(z.object({ ids: z.array(id).min(1), reviewed: z.boolean() })),
    remove: method<void>()(z.object({ ids: z.array(id).min(1) })),
  },
  classes: {
    list: method<ClassRecord[]>()(none),
    create: method<ClassRecord>()(z.object({ name: z.string().trim().min(1).max(100), color: color.optional() })),
    update: method<ClassRecord>()(z.object({ id, name: z.string().trim().min(1).max(100).optional(), color: color.optional() })),
    remove: method<void>()(z.object({ id })),
  },
  annotations: {
    list: method<AnnotationRecord[]>()(z.object({ imageId: id })),
    /** Replaces the image's objects with `annotations` in one transaction (autosave, undo and redo all use it). */
    save: method<AnnotationRecord[]>()(z.object({ imageId: id, annotations: z.array(annotationDraftSchema).max(10_000) })),
    add: method<AnnotationRecord[]>()(z.object({ items: z.array(annotationDraftSchema.extend({ imageId: id })).min(1).max(10_000) })),
    remove: method<void>()(z.object({ ids: z.array(id).min(1) })),
  },
  embeddings: {
    models: method<ModelRecord[]>()(none),
    /** Queue an embedding job for the given images (all images without an embedding when absent). */
    start: method<JobRecord>()(z.object({ imageIds: z.array(id).optional(), modelId: z.string().optional() })),
  },
  jobs: {
    list: method<JobRecord[]>()(z.object({ activeOnly: z.boolean().default(false) })),
    cancel: method<void>()(z.object({ id })),
  },
  segment: {
    clicks: method<SegmentResult>()(segmentRequestSchema),
  },
  datasets: {
    /** The formats, each with what it cannot hold (shown before exporting). */
    formats: method<Array<{ id: FormatId; losses: FormatLoss[] }>>()(none),
    /** Writes the project (or some images) as a dataset; runs as a job whose result is { path, images, annotations, warnings }. */
    export: method<JobRecord>()(z.object({
      format: z.enum(formatIds),
      /** Empty or new folder; the .zip file for 'bundle'. */
      target: path,
      imageIds: z.array(id).optional(),
      segmentation: z.enum(['rle', 'polygon']).optional(),
      copyImages: z.boolean().optional(),
      embeddings: z.boolean().optional(),
      overwrite: z.boolean().optional(),
    })),
    /** Reads a dataset into the open project, all or nothing; runs as a job. */
    import: method<JobRecord>()(z.object({
      format: z.enum(['coco', 'voc', 'yolo', 'labelme']),
      path,
      unknownClasses: z.enum(['create', 'error']).optional(),
    })),
    /** Unpacks a project bundle into an empty folder and opens it; says which images it lacks and what it changed. */
    openBundle: method<ProjectInfo & { missingImages: string[]; warnings: string[] }>()(z.object({ file: path, targetDir: path })),
  },
  ...searchContract,
  ...modelsContract,
  ...augmentContract,
  ...teamContract,
} as const;

export type Contract = typeof contract;
export type ServiceName = keyof Contract;
export type MethodName<S extends ServiceName> = keyof Contract[S] & string;

type InputOf<M> = M extends Method<infer I, unknown> ? z.input<I> : never;
type ParsedInputOf<M> = M extends Method<infer I, unknown> ? z.output<I> : never;
type OutputOf<M> = M extends Method<z.ZodType, infer O> ? O : never;

/** What the renderer calls: every method async, input optional where the schema allows it. */
export type Api = {
  [S in ServiceName]: {
    [M in MethodName<S>]: undefined extends InputOf<Contract[S][M]>
      ? (input?: InputOf<Contract[S][M]>) => Promise<OutputOf<Contract[S][M]>>
      : (input: InputOf<Contract[S][M]>) => Promise<OutputOf<Contract[S][M]>>;
  };
};

/** What the main side implements: receives validated input, may answer synchronously. */
export type ApiImplementation = {
  [S in ServiceName]: {
    [M in MethodName<S>]: (input: ParsedInputOf<Contract[S][M]>) => OutputOf<Contract[S][M]> | Promise<OutputOf<Contract[S][M]>>;
  };
};

/**
 * Errors cross the boundary as { code, message }; codes are stable, messages are for people. The codes:
 * - bad requests: 'invalid-input', 'invalid-json', 'unknown-method', 'too-large' (a body, mask or size beyond
 *   what can be allocated), 'unsupported-media-type', 'method';
 * - access: 'unauthorised' (web: no or wrong token), 'forbidden-origin' (web: a page of another origin),
 *   'forbidden' (Electron: an IPC call from a frame that is not the app's);
 * - state: 'no-project', 'not-found' (unknown id or path, also an unknown job id), 'exists', 'in-use' (another
 *   process holds the project, or SQLite is busy), 'conflict' (refers to something removed meanwhile),
 *   'class-missing' (an object's class is not in this project), 'not-embedded';
 * - project files: 'missing', 'not-a-project', 'newer-version', 'is-a-folder', 'read-only', 'permission-denied',
 *   'damaged', 'open-failed', 'invalid-bundle';
 * - resources: 'disk-full';
 * - team projects (electron/team/studio-api.ts): 'team-unsupported' (a call a team project does not offer),
 *   'unavailable' (the server cannot be reached), 'unauthorized' (wrong user name or password), 'forbidden' (the
 *   account's role may not), 'leased' / 'lease-required' (another user holds the image / claim it first),
 *   'too-many-attempts', 'newer-version' / 'older-version' (the server's team API), 'conflict' (a stale save),
 *   'account-disabled' (an admin disabled the account; its sessions ended), 'last-admin' (a change that would leave
 *   no enabled admin), 'model-mismatch' (a pushed map computed by another file of the model than the server's), 'team-only' (accounts,
 *   asked of a project file);
 * - 'internal': a fault of ours (HTTP 500); everything else is the user's or the input's (HTTP 4xx).
 * electron/services/errors.ts maps Node, SQLite and V8 errors onto these.
 */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

export type Invoke = (service: string, method: string, input: unknown) => Promise<unknown>;

/** Builds the typed client over any transport. */
export function createApi(invoke: Invoke): Api {
  const api: Record<string, Record<string, (input?: unknown) => Promise<unknown>>> = {};
  for (const [service, methods] of Object.entries(contract)) {
    api[service] = {};
    for (const name of Object.keys(methods)) api[service][name] = (input?: unknown) => invoke(service, name, input ?? {});
  }
  return api as unknown as Api;
}

/** Every (service, method) pair, for transports that register one route or channel per method. */
export function contractMethods(): Array<[ServiceName, string]> {
  return Object.entries(contract).flatMap(([service, methods]) =>
    Object.keys(methods).map((name) => [service as ServiceName, name] as [ServiceName, string]));
}

/** Validates and dispatches one call on the main side; throws ApiError on bad input or unknown method. */
export async function dispatch(implementation: ApiImplementation, service: string, name: string, input: unknown): Promise<unknown> {
  const spec = (contract as Record<string, Record<string, Method<z.ZodType, unknown>>>)[service]?.[name];
  const handler = (implementation as unknown as Record<string, Record<string, (input: unknown) => unknown>>)[service]?.[name];
  if (!spec || !handler) throw new ApiError('unknown-method', `no method ${service}.${name}`);
  const parsed = spec.input.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ApiError('invalid-input', `${service}.${name}: ${issue.path.join('.') || 'input'}: ${issue.message}`);
  }
  return handler(parsed.data ?? {});
}
