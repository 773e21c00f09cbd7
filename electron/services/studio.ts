/**
 * The main side's state: the open project, its job runner, the model registry and the embedding worker.
 * Electron main, the web server and the CLI all drive one Studio.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { ApiError } from '../../core/api/contract';
import type { RecentProject } from '../../core/api/records';
import { ProjectFileError } from '../../db/connection';
import { Project } from '../../db/project';
import { EmbeddingWorker } from '../embedding/worker-client';
import { embedHandler, type EmbedPayload } from '../jobs/embed-job';
import { runDatasetExport, runDatasetImport } from '../jobs/dataset-jobs';
import { runImport } from '../jobs/import-job';
import { JobRunner } from '../jobs/runner';
import { ModelRegistry } from '../models';
import { acquireProjectLock } from './project-lock';
import { toApiError } from './errors';
import { indexStored, reindexMissing } from '../search/indexer';
import { builtinModelsDir } from '../paths';
import { writeSampleImages } from '../sample';
import { augmentHandler, type AugmentPayload } from '../augment/job';
import type { z } from 'zod';
import type { augmentRequestSchema } from '../../core/api/augment-contract';

export interface StudioOptions {
  /** The user's data folder: recent projects, user models, the sample project. */
  dataDir: string;
  mode: 'electron' | 'web' | 'cli';
  /** better-sqlite3 binary for this runtime (Electron). */
  nativeBinding?: string;
}

export class Studio {
  readonly registry: ModelRegistry;
  readonly worker = new EmbeddingWorker();
  private open: { project: Project; runner: JobRunner; release: () => void } | null = null;

  constructor(readonly options: StudioOptions) {
    mkdirSync(options.dataDir, { recursive: true });
    this.registry = new ModelRegistry([
      { dir: builtinModelsDir(), builtin: true },
      { dir: join(options.dataDir, 'models'), builtin: false },
    ]);
  }

  get project(): Project {
    if (!this.open) throw new ApiError('no-project', 'no project is open');
    return this.open.project;
  }

  get runner(): JobRunner {
    if (!this.open) throw new ApiError('no-project', 'no project is open');
    return this.open.runner;
  }

  get current(): Project | null {
    return this.open?.project ?? null;
  }

  /**
   * Opens (or creates) a project file and resumes its unfinished jobs; the previous project is closed only once
   * the new one is open. A failed open leaves the current project open and gives back its own lock and handle
   * (audit F7).
   */
  async openProject(path: string, create: boolean): Promise<Project> {
    const file = resolve(path);
    if (create && existsSync(file)) {
      if (statSync(file).isDirectory()) throw new ApiError('is-a-folder', `${file} is a folder; choose a file name for the new project`);
      throw new ApiError('exists', `${file} already exists; open it instead`);
    }
    // Reopening the open project: its runner stops before the new one takes over the same jobs.
    if (this.open?.project.path === file) await this.closeProject();
    let release = acquireProjectLock(file);
    let project: Project | null = null;
    let runner: JobRunner;
    try {
      project = new Project(file, { create, nativeBinding: this.options.nativeBinding });
      if (create) {
        // The new file has an identity (inode) now: lock that too, so a hard link made later leads to the lock.
        const [byPath, byIdentity] = [release, acquireProjectLock(file)];
        release = () => {
          byIdentity();
          byPath();
        };
      }
      runner = this.createRunner(project);
    } catch (error) {
      project?.close();
      release();
      if (error instanceof ProjectFileError) throw new ApiError(error.code, error.message);
      const classified = toApiError(error, file);
      throw classified.code === 'internal' ? new ApiError('open-failed', `cannot open ${file}: ${classified.message}`) : classified;
    }
    await this.closeProject();
    this.open = { project, runner, release };
    this.remember(file);
    // Embeddings stored before the search index existed (or by an older version) get their region vectors now.
    const indexing = reindexMissing(project, this.modelId()).catch(() => 0);
    if (this.options.mode === 'cli') await indexing;
    if (this.options.mode !== 'cli') runner.kick();
    return project;
  }

  private createRunner(project: Project): JobRunner {
    return new JobRunner(project, {
      import: runImport,
      'dataset-import': runDatasetImport,
      'dataset-export': runDatasetExport,
      embed: embedHandler({
        worker: this.worker,
        model: (id) => this.registry.get(id),
        // The search index follows the embeddings: each stored map is split into region vectors at once.
        afterStore: (imageId, modelId) => indexStored(project, imageId, modelId),
      }),
      // Variants get their own embeddings (search, clicks) right after.
      augment: augmentHandler({ model: (id) => this.registry.get(id), afterCreate: (ids) => this.enqueueEmbed(ids) }),
    });
  }

  async closeProject(): Promise<void> {
    const open = this.open;
    this.open = null;
    if (!open) return;
    await open.runner.close();
    open.project.close();
    open.release();
  }

  /** Creates the sample project once (generated images, imported and queued for embedding) and opens it. */
  async openSample(): Promise<Project> {
    const dir = join(this.options.dataDir, 'sample');
    const file = join(dir, 'sample.pixelwise');
    if (existsSync(file)) return this.openProject(file, false);
    const images = await writeSampleImages(dir);
    const project = await this.openProject(file, true);
    if (!project.classes.list().length) project.classes.create('object');
    this.runner.enqueue('import', { paths: [images] }, 0);
    this.enqueueEmbed(null);
    return project;
  }

  /**
   * The model a project works with: the available one it has the most embeddings for (so a project embedded with
   * one model keeps using it when a newer default arrives), else the registry's default.
   */
  modelId(): string {
    const project = this.open?.project;
    const usable = new Set(this.registry.list().filter((m) => m.available).map((m) => m.id));
    const stored = project?.embeddings.countsByModel().find(({ modelId }) => usable.has(modelId));
    return stored?.modelId ?? this.registry.defaultId();
  }

  enqueueEmbed(imageIds: number[] | null, modelId?: string) {
    const model = this.registry.get(modelId ?? this.modelId());
    const payload: EmbedPayload = { modelId: model.id, imageIds };
    return this.runner.enqueue('embed', payload, imageIds?.length ?? 0);
  }

  /** Queues an augment job on the project's model (only images embedded with it can be augmented). */
  enqueueAugment(request: z.output<typeof augmentRequestSchema>) {
    const { imageIds, variants, edit, strength } = request;
    const payload: AugmentPayload = {
      imageIds, variants, edit, strength, seed: request.seed ?? Math.floor(Math.random() * 2 ** 31), modelId: this.modelId(),
    };
    return this.runner.enqueue('augment', payload, imageIds.length * variants);
  }

  private recentFile(): string {
    return join(this.options.dataDir, 'recent.json');
  }

  recent(): RecentProject[] {
    try {
      const list = JSON.parse(readFileSync(this.recentFile(), 'utf8')) as Array<{ path: string; openedAt: string }>;
      return list.map((entry) => ({ ...entry, name: basename(entry.path).replace(/\.[^.]+$/, ''), exists: existsSync(entry.path) }));
    } catch {
      return [];
    }
  }

  private remember(path: string): void {
    const list = [{ path, openedAt: new Date().toISOString() }, ...this.recent().filter((e) => e.path !== path)]
      .slice(0, 12).map(({ path, openedAt }) => ({ path, openedAt }));
    try {
      writeFileSync(this.recentFile(), JSON.stringify(list, null, 2));
    } catch {
      // A convenience list: a full disk or a read-only data folder must not fail the open that just succeeded.
    }
  }

  async close(): Promise<void> {
    await this.closeProject();
    await this.worker.close();
  }
}
