/**
 * The team server's calls: one table of `service.method` -> the roles allowed, the input's schema and the
 * handler. Authorisation is this table and nothing else: a call not in it does not exist, a role not listed is
 * refused (deny by default). Labelers save only images they hold the lease on; nobody saves an image another user
 * holds; every save names the version it was based on (db/store.ts says why).
 */
import { z } from 'zod';
import { packEmbedding } from '../../core/api/blobs';
import { ApiError, annotationDraftSchema, segmentRequestSchema } from '../../core/api/contract';
import { imageStatuses } from '../../core/api/records';
import type { StoredEmbedding } from '../../core/embedding';
import { inputGeometry } from '../../core/manifest';
import { searchAcceptSchema, searchFeedbackSchema, searchHitMaskSchema, searchQuerySchema } from '../../core/api/search-contract';
import { type Role, roles, type Store, type UserRecord } from '../../db/store';
import { describeImage } from '../jobs/import-job';
import type { ModelEntry, ModelRegistry } from '../models';
import { checkPassword, hashPassword, tokenHash, updateAccount } from './auth';
import { MapCache } from './map-cache';
import type { ScanPool } from './scan-pool';
import { TeamRegionIndex } from './search';
import { TeamSearch } from './search-sessions';
import { TeamSegmenter } from './segment';

/**
 * The version of this table as clients see it: raised when a call changes so that an older client would misread it.
 * A studio refuses to open a server whose version is higher than the one it was built with (electron/team/connection.ts).
 */
export const teamApiVersion = 1;

export interface CallContext {
  user: UserRecord;
  /** The bearer token's hash (for logout). */
  session: string;
}

interface Call<S extends z.ZodType> {
  roles: readonly Role[];
  input: S;
  run(input: z.infer<S>, context: CallContext): Promise<unknown>;
}

/** Accounts of people; a worker's account gets only the task calls and image bytes. */
const anyone = ['admin', 'labeler', 'reviewer'] as const;
const workers = ['admin', 'worker'] as const;
const admins = ['admin'] as const;
const labelers = ['admin', 'labeler'] as const;
const reviewers = ['admin', 'reviewer'] as const;

const id = z.number().int().positive();
const none = z.object({}).strict();
/** A name for people, '/'-separated and relative: a project file keeps uploads under its folder, so no '..' and no root. */
const uploadPath = z.string().min(1).max(1000).refine((path) => !path.startsWith('/') && !path.includes('\\')
  && path.split('/').every((part) => part !== '' && part !== '.' && part !== '..'), 'a relative path with / between folders, without . or .. parts');
const taskSchema = z.object({ id, imageId: id, modelId: z.string().min(1).max(200), leaseToken: z.string().uuid(), attempts: z.number().int().min(0) });
const size = z.number().int().positive().max(100_000);
const embeddingSchema = z.object({
  width: size, height: size, dim: z.number().int().positive().max(4096), imageWidth: size, imageHeight: size,
  dtype: z.enum(['int8', 'float16']), scale: z.number().positive(), data: z.string(),
});
const call = <S extends z.ZodType>(spec: Call<S>) => spec as unknown as Call<z.ZodType>;

/** The map a call sends, its byte count checked against its shape before anything is stored. */
function storedEmbedding({ data, ...shape }: z.infer<typeof embeddingSchema>): StoredEmbedding {
  const bytes = Buffer.from(data, 'base64');
  const cells = shape.width * shape.height * shape.dim * (shape.dtype === 'int8' ? 1 : 2);
  if (bytes.length !== cells) throw new ApiError('invalid-input', `the embedding holds ${bytes.length} bytes; ${shape.width}x${shape.height}x${shape.dim} ${shape.dtype} needs ${cells}`);
  return { ...shape, bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}

export interface TeamApiOptions {
  store: Store;
  registry: ModelRegistry;
  /** How long a claim on an image lasts unless renewed. */
  leaseSeconds: number;
  /** Threads for search's stage 1 (none: it scans on the event loop). */
  scanPool?: ScanPool;
  /** Bytes of maps search keeps in memory (map-cache.ts; 0: read each from the store every time). */
  mapCacheBytes?: number;
}

export function teamCalls({ store, registry, leaseSeconds, scanPool, mapCacheBytes = 0 }: TeamApiOptions): Record<string, Call<z.ZodType>> {
  const segmenter = new TeamSegmenter(store, () => registry.defaultId());
  const search = new TeamSearch(store, new TeamRegionIndex(store, scanPool), () => registry.defaultId(), leaseSeconds, new MapCache(mapCacheBytes));

  /** A model of the server's registry, or a not-found in words. */
  function knownModel(modelId: string): ModelEntry {
    try {
      return registry.get(modelId);
    } catch (error) {
      throw new ApiError('not-found', (error as Error).message);
    }
  }

  /** Registers a model's manifest once per server process (maps reference it); the same file registers as a no-op. */
  const registered = new Map<string, Promise<void>>();
  function register(model: ModelEntry): Promise<void> {
    let done = registered.get(model.id);
    if (!done) {
      done = store.embeddings.registerModel(model.manifest);
      done.catch(() => registered.delete(model.id));
      registered.set(model.id, done);
    }
    return done;
  }

  /** Labelers must hold the image; nobody may write an image someone else holds. */
  async function assertMayWrite(imageId: number, user: UserRecord): Promise<void> {
    const lease = await store.leases.get(imageId);
    if (lease && lease.userId !== user.id) throw new ApiError('leased', `image ${imageId} is being labeled by ${lease.userName} until ${lease.expiresAt}; your objects were not saved`);
    if (!lease && user.role === 'labeler') throw new ApiError('lease-required', `claim image ${imageId} before saving (another labeler may be working on it)`);
  }

  async function review(imageId: number, version: number, accepted: boolean, comment: string | undefined, user: UserRecord) {
    const current = await store.annotations.get(imageId);
    if (current.version !== version) {
      throw new ApiError('conflict', `image ${imageId} changed since you looked at it (version ${version}, now ${current.version}); review it again`);
    }
    await store.images.setReviewed(imageId, accepted);
    await store.activity.log(imageId, user.id, accepted ? 'accept' : 'reject', { version, comment: comment ?? null });
    return store.images.get(imageId);
  }

  return {
    'auth.me': call({ roles, input: none, run: async (_input, { user }) => ({ ...user, server: store.location }) }),
    'auth.logout': call({ roles, input: none, run: async (_input, { session }) => store.sessions.remove(session) }),

    /** What a studio shows for the project: the call table's version, the model workers embed with, and counts. */
    'project.info': call({
      roles: anyone, input: none,
      run: async () => {
        const [counts, classes] = await Promise.all([store.images.counts(), store.classes.list()]);
        // The model with the most maps (as a studio picks a project's model), so clients ask for maps that exist.
        const usable = registry.list().filter((model) => model.available);
        const stored = await Promise.all(usable.map(async (model) => ({ id: model.id, count: await store.embeddings.count(model.id) })));
        const modelId = stored.reduce((best, model) => (model.count > best.count ? model : best), { id: registry.defaultId(), count: 0 }).id;
        return {
          apiVersion: teamApiVersion, modelId, statusCounts: counts.byStatus,
          imageCount: Object.values(counts.byStatus).reduce((sum, n) => sum + n, 0), classCount: classes.length, annotationCount: counts.annotations,
        };
      },
    }),

    'users.list': call({ roles: admins, input: none, run: () => store.users.list() }),
    /** Role, password reset, disable or enable; disabling ends the account's sessions and frees its image leases (logged). */
    'users.update': call({
      roles: admins,
      input: z.object({ name: z.string().min(1).max(100), role: z.enum(roles).optional(), password: z.string().optional(), disabled: z.boolean().optional() })
        .strict().refine((input) => input.role !== undefined || input.password !== undefined || input.disabled !== undefined, 'give a role, a password or disabled'),
      run: ({ name, ...request }, { user }) => updateAccount(store, name, request, user),
    }),
    'users.create': call({
      roles: admins,
      input: z.object({ name: z.string().trim().min(1).max(100), role: z.enum(roles), password: z.string() }),
      run: async ({ name, role, password }) => {
        checkPassword(password);
        return store.users.create(name, role, await hashPassword(password));
      },
    }),

    'classes.list': call({ roles: anyone, input: none, run: () => store.classes.list() }),
    'classes.create': call({
      roles: admins, input: z.object({ name: z.string().trim().min(1).max(200), color: z.string().regex(/^#[0-9a-fA-F]{6}$/).optional() }),
      run: ({ name, color }) => store.classes.create(name, color),
    }),
    'classes.update': call({
      roles: admins, input: z.object({ id, name: z.string().trim().min(1).max(200).optional(), color: z.string().regex(/^#[0-9a-fA-F]{6}$/).optional() }),
      run: ({ id: classId, name, color }) => store.classes.update(classId, { name, color }),
    }),
    'classes.remove': call({ roles: admins, input: z.object({ id }), run: ({ id: classId }) => store.classes.remove(classId) }),

    'images.list': call({
      roles: anyone,
      input: z.object({ status: z.enum(imageStatuses).optional(), search: z.string().max(500).optional(),
        offset: z.number().int().min(0).default(0), limit: z.number().int().min(1).max(1000).default(100) }),
      run: (query) => store.images.list(query),
    }),
    'images.get': call({
      roles: anyone, input: z.object({ id }),
      run: async ({ id: imageId }) => {
        const image = await store.images.get(imageId);
        if (!image) throw new ApiError('not-found', `no image ${imageId}`);
        return { ...image, lease: (await store.leases.get(imageId)) ?? null };
      },
    }),
    'images.neighbors': call({
      roles: anyone, input: z.object({ id, status: z.enum(imageStatuses).optional() }),
      run: ({ id: imageId, status }) => store.images.neighbors(imageId, status),
    }),
    'images.find': call({
      roles: anyone, input: z.object({ hashes: z.array(z.string().regex(/^[0-9a-f]{64}$/)).max(1000) }),
      run: async ({ hashes }) => store.images.findByHashes(hashes),
    }),
    'images.download': call({
      roles: roles, input: z.object({ id }),
      run: async ({ id: imageId }) => {
        const bytes = await store.images.bytes(imageId);
        if (!bytes) throw new ApiError('not-found', `no image ${imageId}`);
        return { data: Buffer.from(bytes).toString('base64') };
      },
    }),
    'images.upload': call({
      roles: admins,
      input: z.object({ path: uploadPath, data: z.string().min(1) }),
      run: async ({ path, data }) => {
        const bytes = Buffer.from(data, 'base64');
        const described = await describeImage(bytes).catch((error: Error) => {
          throw new ApiError('invalid-image', `${path}: ${error.message}`);
        });
        return store.images.get(await store.images.add({ ...described, path, bytes }));
      },
    }),

    'leases.claim': call({ roles: labelers, input: z.object({ imageId: id }), run: ({ imageId }, { user }) => store.leases.claim(imageId, user.id, leaseSeconds) }),
    'leases.assign': call({
      roles: admins, input: z.object({ imageId: id, user: z.string().min(1).max(100), hours: z.number().positive().max(24 * 90).default(24) }),
      run: async ({ imageId, user: name, hours }, { user }) => {
        const labeler = await store.users.find(name);
        if (labeler?.role !== 'labeler') throw new ApiError('not-found', `no labeler named "${name}"`);
        if (labeler.disabled) throw new ApiError('account-disabled', `${labeler.name}'s account is disabled; enable it first (users.update)`);
        const lease = await store.leases.claim(imageId, labeler.id, hours * 3600);
        await store.activity.log(imageId, user.id, 'assign', { to: labeler.name, until: lease.expiresAt });
        return lease;
      },
    }),
    'leases.revoke': call({
      roles: admins, input: z.object({ imageId: id }),
      run: async ({ imageId }, { user }) => {
        const lease = await store.leases.get(imageId);
        if (!lease) return;
        await store.leases.release(imageId, lease.userId);
        await store.activity.log(imageId, user.id, 'revoke', { from: lease.userName });
      },
    }),
    'leases.release': call({ roles: labelers, input: z.object({ imageId: id }), run: ({ imageId }, { user }) => store.leases.release(imageId, user.id) }),

    'annotations.get': call({ roles: anyone, input: z.object({ imageId: id }), run: ({ imageId }) => store.annotations.get(imageId) }),
    'annotations.save': call({
      roles: labelers,
      input: z.object({ imageId: id, baseVersion: z.number().int().min(0), annotations: z.array(annotationDraftSchema).max(10_000),
        saveId: z.string().min(1).max(100).optional() }),
      run: async ({ imageId, baseVersion, annotations, saveId }, { user }) => {
        await assertMayWrite(imageId, user);
        return store.annotations.save({ imageId, baseVersion, annotations, saveId, userId: user.id });
      },
    }),
    'annotations.history': call({ roles: anyone, input: z.object({ imageId: id }), run: ({ imageId }) => store.annotations.history(imageId) }),

    'review.accept': call({
      roles: reviewers, input: z.object({ imageId: id, version: z.number().int().min(0), comment: z.string().max(2000).optional() }),
      run: ({ imageId, version, comment }, { user }) => review(imageId, version, true, comment, user),
    }),
    'review.reject': call({
      roles: reviewers, input: z.object({ imageId: id, version: z.number().int().min(0), comment: z.string().max(2000).optional() }),
      run: ({ imageId, version, comment }, { user }) => review(imageId, version, false, comment, user),
    }),

    'activity.list': call({ roles: anyone, input: z.object({ imageId: id }), run: ({ imageId }) => store.activity.list(imageId) }),

    'segment.clicks': call({
      roles: labelers, input: segmentRequestSchema.extend({ image: id }),
      run: (request) => segmenter.segment(request),
    }),

    // Search sessions are the user's own (search-sessions.ts); accepting hits writes objects, as a save does.
    'search.query': call({ roles: anyone, input: searchQuerySchema, run: (input, { user }) => search.query(input, user) }),
    'search.feedback': call({ roles: anyone, input: searchFeedbackSchema, run: (input, { user }) => search.feedback(input, user) }),
    'search.hitMask': call({ roles: anyone, input: searchHitMaskSchema, run: (input, { user }) => search.hitMask(input, user) }),
    'search.accept': call({ roles: labelers, input: searchAcceptSchema, run: (input, { user }) => search.accept(input, user) }),

    'embeddings.start': call({
      roles: admins, input: z.object({ modelId: z.string().optional() }),
      run: async ({ modelId }) => {
        const model = registry.get(modelId);
        await store.embeddings.registerModel(model.manifest);
        return { modelId: model.id, queued: await store.tasks.enqueueEmbed(model.id, null) };
      },
    }),
    'embeddings.status': call({ roles: anyone, input: none, run: () => store.tasks.counts() }),
    /** The stored map as packEmbedding() bytes in base64 (clients segment locally, as the studio does); null when not embedded yet. */
    'embeddings.get': call({
      roles: anyone, input: z.object({ imageId: id, modelId: z.string().min(1).max(200).optional() }),
      run: async ({ imageId, modelId }) => {
        const model = modelId ?? registry.defaultId();
        const stored = await store.embeddings.get(imageId, model);
        return stored ? { modelId: model, data: Buffer.from(packEmbedding(stored)).toString('base64') } : null;
      },
    }),

    /** The models this server embeds with (push uploads maps of these only, pull fetches them), with how many maps each has. */
    'embeddings.models': call({
      roles: anyone, input: none,
      run: async () => Promise.all(registry.list().filter((entry) => entry.available).map(async ({ id: modelId, manifest }) => ({
        id: modelId, sha256: manifest.sha256, manifest, stored: await store.embeddings.count(modelId),
      }))),
    }),
    /** Which of these images have a map of the model (push and pull skip what is there already). */
    'embeddings.stored': call({
      roles: anyone, input: z.object({ modelId: z.string().min(1).max(200), imageIds: z.array(id).max(1000) }),
      run: ({ modelId, imageIds }) => store.embeddings.stored(modelId, imageIds),
    }),
    /**
     * A map computed elsewhere (pixelwise push): checked against the server's model file (sha256, dim, grid) and the
     * image's size, stored with its regions as tasks.complete stores a worker's, so search and clicks work at once.
     */
    'embeddings.put': call({
      roles: admins,
      input: z.object({ imageId: id, modelId: z.string().min(1).max(200), sha256: z.string().regex(/^[0-9a-f]{64}$/), embedding: embeddingSchema }),
      run: async ({ imageId, modelId, sha256, embedding }) => {
        const model = knownModel(modelId);
        if (model.manifest.sha256 !== sha256) {
          throw new ApiError('model-mismatch', `this map of image ${imageId} was computed by another file of model ${modelId} than the server's; embed it on the server instead`);
        }
        const image = await store.images.get(imageId);
        if (!image) throw new ApiError('not-found', `no image ${imageId}`);
        const stored = storedEmbedding(embedding);
        const grid = inputGeometry(model.manifest, image.width, image.height);
        if (stored.dim !== model.manifest.output.dim || stored.imageWidth !== image.width || stored.imageHeight !== image.height
          || stored.width > grid.gridWidth || stored.height > grid.gridHeight) {
          throw new ApiError('invalid-input', `a ${stored.width}x${stored.height}x${stored.dim} map of a ${stored.imageWidth}x${stored.imageHeight} image does not fit image ${imageId} (${image.width}x${image.height}) and model ${modelId} (${grid.gridWidth}x${grid.gridHeight}x${model.manifest.output.dim})`);
        }
        await register(model);
        await store.embeddings.put(imageId, model.id, stored);
      },
    }),

    // Workers that reach the queue through the server (pixelwise worker --server): no database credentials on GPU machines.
    'tasks.claim': call({
      roles: workers, input: z.object({ worker: z.string().min(1).max(200), leaseSeconds: z.number().min(1).max(3600) }),
      run: ({ worker, leaseSeconds }, { user }) => store.tasks.claim(`${user.name}/${worker}`, leaseSeconds),
    }),
    'tasks.renew': call({
      roles: workers, input: z.object({ task: taskSchema, leaseSeconds: z.number().min(1).max(3600) }),
      run: ({ task, leaseSeconds }) => store.tasks.renew(task, leaseSeconds),
    }),
    'tasks.complete': call({
      roles: workers, input: z.object({ task: taskSchema, embedding: embeddingSchema }),
      run: ({ task, embedding }) => store.tasks.complete(task, storedEmbedding(embedding)),
    }),
    'tasks.fail': call({
      roles: workers, input: z.object({ task: taskSchema, error: z.string().max(2000) }),
      run: ({ task, error }) => store.tasks.fail(task, error),
    }),
    'tasks.counts': call({ roles: workers, input: none, run: () => store.tasks.counts() }),
  };
}

/** Runs one call for the user whose session token was sent; the input is validated before anything runs. */
export async function runCall(calls: Record<string, Call<z.ZodType>>, name: string, input: unknown, user: UserRecord, token: string): Promise<unknown> {
  const spec = Object.hasOwn(calls, name) ? calls[name] : undefined;
  if (!spec) throw new ApiError('not-found', `the server has no call "${name}"`);
  if (!spec.roles.includes(user.role)) throw new ApiError('forbidden', `${user.name} is a ${user.role}; "${name}" is for ${spec.roles.join(' or ')} accounts`);
  const parsed = spec.input.safeParse(input ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ApiError('invalid-input', `${name}: ${issue.path.join('.') || 'input'}: ${issue.message}`);
  }
  return spec.run(parsed.data, { user, session: tokenHash(token) });
}
