/**
 * Storage for a team project, behind one async interface with two implementations: the project's SQLite file
 * (db/sqlite-store.ts, wrapping the synchronous repositories) and PostgreSQL (db/pg/store.ts) for the team server.
 * Scoped to what a team server needs: images (with their bytes and thumbnails), classes, annotations with a
 * version per image, embeddings, the embed-task queue with leases, users and sessions, image leases and the
 * per-image activity log. tests/team-store.test.ts runs one contract suite against both.
 *
 * Why versions: every save names the version it was based on; a save based on an older one is refused with the
 * current version (StaleVersionError), so no labeler's work is ever overwritten without them seeing it. A save
 * also carries the client's saveId: a retry of a save whose answer was lost (dropped connection) gets the stored
 * result back instead of a conflict with itself.
 */
import { ApiError } from '../core/api/contract';
import type { AnnotationDraft, AnnotationRecord, ClassRecord, ImagePage, ImageRecord, ImageStatus } from '../core/api/records';
import { dequantize, type StoredEmbedding } from '../core/embedding';
import type { ModelManifest } from '../core/manifest';
import { computeRegions, type RegionSet } from '../core/search/regions';
import type { RegionVectorRow } from './regions';

/** worker: an embedding worker's account (takes embed tasks, reads image bytes, nothing else). */
export const roles = ['admin', 'labeler', 'reviewer', 'worker'] as const;
export type Role = (typeof roles)[number];

export interface UserRecord {
  id: number;
  name: string;
  role: Role;
}

/** A user as an admin sees it (users.list). */
export interface AccountRecord extends UserRecord {
  /** A disabled account cannot sign in; disabling it ended its sessions and freed its image leases. */
  disabled: boolean;
}

export interface StoredUser extends AccountRecord {
  /** scrypt$N$r$p$salt$hash (electron/team/auth.ts). */
  passwordHash: string;
}

/** What an admin changes on an account (users.update); absent fields stay as they are. */
export interface AccountChanges {
  role?: Role;
  passwordHash?: string;
  disabled?: boolean;
}

export interface AccountUpdate {
  user: AccountRecord;
  /** Sessions ended: all of them when the account was disabled or its password reset. */
  endedSessions: number;
  /** Images whose lease the account held and lost (disabled, or a role that cannot label), each logged as a revoke. */
  freedLeases: number[];
}

/**
 * Why a session ended before it expired, so a client holding its token is told in words (sessions.ended):
 * 'disabled' (an admin disabled the account) or 'password-reset' (an admin set a new password).
 */
export type SessionEnd = 'disabled' | 'password-reset';

/** Roles that claim images and save objects (the others' leases are freed when an account changes to them). */
export const leaseRoles: readonly Role[] = ['admin', 'labeler'];

export interface NewTeamImage {
  /** A name for people ('/'-separated path as uploaded); unique in the project. */
  path: string;
  hash: string;
  width: number;
  height: number;
  byteSize: number;
  format: string;
  /** JPEG, long side 256. */
  thumbnail: Uint8Array;
  /** The encoded file. */
  bytes: Uint8Array;
}

export interface VersionedAnnotations {
  imageId: number;
  /** 0 before the first save; each accepted save adds one. */
  version: number;
  annotations: AnnotationRecord[];
}

export interface SaveRequest {
  imageId: number;
  baseVersion: number;
  annotations: AnnotationDraft[];
  userId: number;
  /** The client's id for this save (retries reuse it), at most 100 characters. */
  saveId?: string;
}

export interface Lease {
  imageId: number;
  userId: number;
  userName: string;
  /** ISO time. */
  expiresAt: string;
}

export interface ActivityEntry {
  imageId: number;
  userId: number | null;
  userName: string | null;
  action: string;
  detail: unknown;
  at: string;
}

export interface EmbedTask {
  id: number;
  imageId: number;
  modelId: string;
  /** Proves the claim when completing: a worker whose lease expired and was taken over cannot complete. */
  leaseToken: string;
  attempts: number;
}

/**
 * A task whose worker stopped (died, or lost its lease) this many times is not handed out again: an image that
 * kills the process embedding it (out of memory on a huge file) would otherwise take the workers down one by one.
 */
export const maxTaskAttempts = 5;
export const gaveUp = `gave up after ${maxTaskAttempts} attempts: each worker stopped while embedding this image`;

export interface TaskCounts {
  queued: number;
  running: number;
  done: number;
  failed: number;
}

/** A save based on an older version than the stored one: the API answers 409 with `current`. */
export class StaleVersionError extends ApiError {
  override name = 'StaleVersionError';
  constructor(readonly current: VersionedAnnotations, baseVersion: number) {
    super('conflict', `image ${current.imageId} was saved by someone else meanwhile (your edit was based on version ${baseVersion}, the stored one is ${current.version}); your objects are kept in the editor: reload to see theirs, then save again`);
  }
}

/** The image is leased to another user. */
export class LeaseHeldError extends ApiError {
  override name = 'LeaseHeldError';
  constructor(readonly lease: Lease) {
    super('leased', `image ${lease.imageId} is being labeled by ${lease.userName} until ${lease.expiresAt}`);
  }
}

/** The database was made by a newer Pixelwise: nothing is read or written. */
export class NewerSchemaError extends ApiError {
  override name = 'NewerSchemaError';
  constructor(where: string, found: number, known: number) {
    super('newer-version', `${where} was written by a newer Pixelwise Studio (schema ${found}; this version reads up to ${known}). Update Pixelwise to use it.`);
  }
}

export interface ImageQuery {
  status?: ImageStatus;
  /** Part of the path, case-insensitive. */
  search?: string;
  offset: number;
  limit: number;
}

/** A region row for the stage-1 matrix, with its change number (rows come in seq order). */
export interface RegionChange extends RegionVectorRow {
  seq: number;
}

/**
 * Where a model's region rows stand. Rows written by transactions that commit out of seq order can appear below
 * `last` after it was read: readers look back a little (electron/team/search.ts) and compare `rows`.
 */
export interface RegionVersion {
  rows: number;
  /** Highest seq committed. */
  last: number;
  /** Rows ever removed (a reader holding removed rows must reload; SQLite: always 0, rows tells). */
  removed: number;
}

/**
 * The regions of a stored map, split exactly as the local indexer splits them (electron/search/indexer.ts
 * indexStored: computeRegions on the dequantised map), so a team project and a project file search alike.
 */
export const regionSetOf = (stored: StoredEmbedding): RegionSet => computeRegions(dequantize(stored));

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Where it is, for messages and the status bar (a file path, or a URL without its password). */
  readonly location: string;
  close(): Promise<void>;
  images: {
    /** Adds an image (or returns the id of one with the same content). */
    add(image: NewTeamImage): Promise<number>;
    get(id: number): Promise<ImageRecord | undefined>;
    /** The ids of the images with these content hashes, by hash (absent ones left out). */
    findByHashes(hashes: string[]): Promise<Record<string, number>>;
    list(query: ImageQuery): Promise<ImagePage>;
    /** The ids before and after `id` in list order (id order), among the images of `status` when given. */
    neighbors(id: number, status?: ImageStatus): Promise<{ previous: number | null; next: number | null }>;
    /** How many images have each status, and how many objects there are in all (for a project's summary). */
    counts(): Promise<{ byStatus: Record<ImageStatus, number>; annotations: number }>;
    bytes(id: number): Promise<Uint8Array | undefined>;
    thumbnail(id: number): Promise<Uint8Array | undefined>;
    setReviewed(id: number, reviewed: boolean): Promise<void>;
  };
  classes: {
    list(): Promise<ClassRecord[]>;
    create(name: string, color?: string): Promise<ClassRecord>;
    update(id: number, changes: { name?: string; color?: string }): Promise<ClassRecord>;
    remove(id: number): Promise<void>;
  };
  annotations: {
    get(imageId: number): Promise<VersionedAnnotations>;
    /** Makes the image's objects exactly the drafts if baseVersion is current; else throws StaleVersionError. */
    save(request: SaveRequest): Promise<VersionedAnnotations>;
    /** Every accepted save of the image, oldest first. */
    history(imageId: number): Promise<Array<{ version: number; userId: number | null; saveId: string | null; count: number }>>;
  };
  embeddings: {
    registerModel(manifest: ModelManifest): Promise<void>;
    get(imageId: number, modelId: string): Promise<StoredEmbedding | undefined>;
    count(modelId: string): Promise<number>;
    /** The ids among imageIds that have a map of the model. */
    stored(modelId: string, imageIds: number[]): Promise<number[]>;
    /**
     * Stores (or replaces) an image's map with its regions (regionSetOf) and status in one transaction, as
     * tasks.complete does, for maps computed elsewhere (pixelwise push); a queued embed task of the image is done
     * with. The model must be registered.
     */
    put(imageId: number, modelId: string, stored: StoredEmbedding): Promise<void>;
  };
  tasks: {
    /** Queues an embed task for each image (all readable images when null) without an embedding; failed tasks are queued again. Returns how many. */
    enqueueEmbed(modelId: string, imageIds: number[] | null): Promise<number>;
    /** The oldest queued task, or one whose worker's lease expired; null when there is none. */
    claim(worker: string, leaseSeconds: number): Promise<EmbedTask | null>;
    /** Extends the lease; false when the task was taken over. */
    renew(task: EmbedTask, leaseSeconds: number): Promise<boolean>;
    /**
     * Stores the embedding and its regions (regionSetOf) and marks the task done in one transaction; false (nothing
     * written) when the task was taken over.
     */
    complete(task: EmbedTask, stored: StoredEmbedding): Promise<boolean>;
    fail(task: EmbedTask, error: string): Promise<void>;
    counts(): Promise<TaskCounts>;
  };
  regions: {
    /** Stores (or replaces) an image's regions; the image must have an embedding for the model. */
    put(imageId: number, modelId: string, set: RegionSet): Promise<void>;
    /** Images with an embedding for the model but no regions (stored before regions were), in id order. */
    missing(modelId: string): Promise<number[]>;
    version(modelId: string): Promise<RegionVersion>;
    /** Up to `limit` rows of the model with seq > afterSeq, in seq order (an image replaced since comes again). */
    changes(modelId: string, afterSeq: number, limit: number): Promise<RegionChange[]>;
  };
  users: {
    create(name: string, role: Role, passwordHash: string): Promise<UserRecord>;
    find(name: string): Promise<StoredUser | undefined>;
    list(): Promise<AccountRecord[]>;
    /**
     * Changes an account in one transaction: disabling ends its sessions and frees its image leases, a password
     * reset ends its sessions, a role that cannot label frees its leases; each freed lease is logged (a revoke by
     * `by`, null for the command line). Refused in words when no enabled admin would be left.
     */
    update(id: number, changes: AccountChanges, by: number | null): Promise<AccountUpdate>;
  };
  sessions: {
    create(userId: number, tokenHash: string, expiresAt: Date): Promise<void>;
    /** The session's user, if the session exists, has not expired and was not ended, and the account is enabled. */
    user(tokenHash: string): Promise<UserRecord | undefined>;
    /** Why the session was ended early (until it would have expired); undefined for live, expired or unknown ones. */
    ended(tokenHash: string): Promise<SessionEnd | undefined>;
    remove(tokenHash: string): Promise<void>;
  };
  /** Failed sign-ins by the name tried (electron/team/auth.ts keys them lower-cased and decides the lockout). */
  signIns: {
    /** When sign-ins as `name` failed since `since`, oldest first (ms since the epoch). */
    failures(name: string, since: Date): Promise<number[]>;
    /** Records a failure at `at`, and forgets every name's failures before `forgetBefore` (none is needed then). */
    fail(name: string, at: Date, forgetBefore: Date): Promise<void>;
  };
  leases: {
    /** Claims or renews the image for the user; LeaseHeldError when another user holds an unexpired lease. */
    claim(imageId: number, userId: number, seconds: number): Promise<Lease>;
    release(imageId: number, userId: number): Promise<void>;
    get(imageId: number): Promise<Lease | undefined>;
  };
  activity: {
    log(imageId: number, userId: number | null, action: string, detail?: unknown): Promise<void>;
    list(imageId: number): Promise<ActivityEntry[]>;
  };
}

/** The refusal when a change would leave the team without an enabled admin (nobody could manage accounts). */
export function lastAdminError(name: string): ApiError {
  return new ApiError('last-admin', `${name} is the only enabled admin; make another account an admin first`);
}

export function assertSaveId(saveId: string | undefined): void {
  if (saveId !== undefined && (saveId.length === 0 || saveId.length > 100)) throw new ApiError('invalid-input', 'saveId must be 1-100 characters');
}

/** Class ids a save refers to that the project does not have: a labeler-worded error (a class removed meanwhile). */
export function assertKnownClasses(known: ClassRecord[], drafts: AnnotationDraft[]): void {
  const ids = new Set(known.map((c) => c.id));
  const missing = drafts.find((draft) => draft.classId !== null && !ids.has(draft.classId));
  if (missing) throw new ApiError('class-missing', `the class of this object (id ${missing.classId}) does not exist in this project; choose another class`);
}
