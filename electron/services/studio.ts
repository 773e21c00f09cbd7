/**
 * The main side's state: the open project, its job runner, the model registry and the embedding worker.
 * Electron main, the web server and the CLI all drive one Studio.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { ApiError } from '../../core/api/contract';
import type { ProjectModelState } from '../../core/api/models-contract';
import type { JobRecord, ProjectInfo, RecentProject } from '../../core/api/records';
import { ProjectFileError } from '../../db/connection';
import { Project } from '../../db/project';
import { EmbeddingWorker } from '../embedding/worker-client';
import { embedHandler, type EmbedPayload } from '../jobs/embed-job';
import { runDatasetExport, runDatasetImport } from '../jobs/dataset-jobs';
import { runImport } from '../jobs/import-job';
import { JobRunner } from '../jobs/runner';
import { ModelRegistry } from '../models';
import { ModelInstalls } from '../models/installs';
import { acquireProjectLock } from './project-lock';
import { toApiError } from './errors';
import { indexStored, reindexMissing } from '../search/indexer';
import { builtinModelsDir } from '../paths';
import { writeSampleImages } from '../sample';
import { augmentHandler, type AugmentPayload } from '../augment/job';
import type { z } from 'zod';
import type { augmentRequestSchema } from '../../core/api/augment-contract';
import { TeamProject } from '../team/connection';

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
  /** Models being added (downloads with progress), for the Models view. */
  readonly installs: ModelInstalls;
  private open: { project: Project; runner: JobRunner; release: () => void } | null = null;
  /** The team project open instead of a project file (at most one of the two is open). */
  private teamProject: TeamProject | null = null;

  constructor(readonly options: StudioOptions) {
    mkdirSync(options.dataDir, { recursive: true });
    this.registry = new ModelRegistry([
      { dir: builtinModelsDir(), builtin: true },
      { dir: join(options.dataDir, 'models'), builtin: false },
    ]);
    this.installs = new ModelInstalls(this.registry);
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

  get team(): TeamProject | null {
    return this.teamProject;
  }

  /** What projects.current answers: the open project file's or team project's summary, or null. */
  async currentInfo(): Promise<ProjectInfo | null> {
    return this.teamProject ? this.teamProject.info() : this.open?.project.info() ?? null;
  }

  /**
   * Signs in to a team server and makes its project the current one. As with a file, the open project is closed
   * only once the new one is open: a wrong password or an unreachable server leaves it open.
   */
  async openTeam(server: string, user: string, password: string): Promise<ProjectInfo> {
    const team = await TeamProject.open(server, user, password);
    let info: ProjectInfo;
    try {
      info = await team.info();
      await this.closeProject();
    } catch (error) {
      await team.close();
      throw error;
    }
    this.teamProject = team;
    this.remember(team.team.server, { server: team.team.server, user: team.team.user });
    return info;
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
        activate: (project, modelId) => this.completeSwitch(project, modelId),
      }),
      // Variants get their own embeddings (search, clicks) right after.
      augment: augmentHandler({ model: (id) => this.registry.get(id), afterCreate: (ids) => this.enqueueEmbed(ids) }),
    });
  }

  async closeProject(): Promise<void> {
    const [open, team] = [this.open, this.teamProject];
    this.open = null;
    this.teamProject = null;
    await team?.close();
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
   * The model a project works with: the one chosen for it (a completed switch, models.use), else the available one
   * it has the most embeddings for (so a project embedded with one model keeps using it when a newer default
   * arrives), else the registry's default.
   */
  modelId(): string {
    if (this.teamProject) return this.teamProject.modelId;
    const project = this.open?.project;
    const usable = new Set(this.registry.list().filter((m) => m.available).map((m) => m.id));
    const chosen = project?.settings.get<string>('model');
    if (chosen && usable.has(chosen)) return chosen;
    const stored = project?.embeddings.countsByModel().find(({ modelId }) => usable.has(modelId));
    return stored?.modelId ?? this.registry.defaultId();
  }

  enqueueEmbed(imageIds: number[] | null, modelId?: string) {
    const model = this.registry.get(modelId ?? this.modelId());
    const payload: EmbedPayload = { modelId: model.id, imageIds };
    return this.runner.enqueue('embed', payload, imageIds?.length ?? 0);
  }

  /**
   * Switches the open project to `modelId`: one embed job (resumable like any other) embeds every image with it,
   * then completeSwitch() makes it the project's model. Until then the current model stays in use: it is recorded
   * first, so the project does not drift to the new model by embedding counts half-way. A switch to another model
   * already under way is cancelled (the maps it stored stay, and count when that model is chosen again).
   */
  useModel(modelId: string): JobRecord {
    const model = this.registry.list().find((entry) => entry.id === modelId);
    if (!model) throw new ApiError('model-missing', `no model "${modelId}" is installed; add it in the Models view or with \`pixelwise models add\``);
    if (!model.available) throw new ApiError('model-damaged', `model "${modelId}" is damaged (its ONNX file is missing or does not match model.json); add it again`);
    const running = this.switching();
    if (running?.modelId === modelId) return this.runner.list(true).find((job) => job.id === running.jobId)!;
    if (running) this.runner.cancel(running.jobId);
    if (!this.project.settings.get<string>('model')) this.project.settings.set('model', this.modelId());
    const payload: EmbedPayload = { modelId, imageIds: null, activate: true };
    return this.runner.enqueue('embed', payload, 0);
  }

  /** The switch in progress in the open project (its unfinished activating embed job), or null. */
  switching(): { modelId: string; jobId: number; done: number; total: number } | null {
    const job = this.current?.jobs.list(true).find((entry) => entry.kind === 'embed' && (entry.payload as EmbedPayload | null)?.activate);
    return job ? { modelId: (job.payload as EmbedPayload).modelId, jobId: job.id, done: job.done, total: job.total } : null;
  }

  /**
   * The end of a switch: every image the current model has a map for must have one from the new model too (images
   * that failed with both do not hold it up). Then the new model becomes the project's and its search index is
   * completed; the old maps stay until removeEmbeddings() is asked for.
   */
  private async completeSwitch(project: Project, modelId: string): Promise<void> {
    const current = project.settings.get<string>('model');
    const lacking = current && current !== modelId ? project.embeddings.lacking(current, modelId) : 0;
    if (lacking > 0) {
      throw new ApiError('incomplete', `${lacking} image${lacking === 1 ? '' : 's'} embedded with ${current} could not be embedded with ${modelId} (see the failed images); the project keeps using ${current} until they are fixed or removed and the switch is started again`);
    }
    project.settings.set('model', modelId);
    await reindexMissing(project, modelId);
  }

  /** The open project's model, the switch in progress and what is stored per model. */
  modelState(): ProjectModelState {
    const project = this.project;
    return {
      activeModelId: this.modelId(),
      switching: this.switching(),
      stored: project.embeddings.countsByModel().map(({ modelId, count }) => ({ modelId, count, bytesPerImage: Math.round(project.embeddings.stats(modelId).bytes) })),
    };
  }

  /** Deletes the open project's maps (and search regions) of a model it does not work with. */
  removeEmbeddings(modelId: string): number {
    if (modelId === this.modelId()) throw new ApiError('model-in-use', `the project works with ${modelId}; switch it to another model before removing these embeddings`);
    if (this.switching()?.modelId === modelId) throw new ApiError('model-in-use', `the project is switching to ${modelId}; cancel the switch first`);
    return this.project.transaction(() => this.project.embeddings.removeModel(modelId));
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

  /** Project files and team projects opened lately, newest first; a team project's entry has no password. */
  recent(): RecentProject[] {
    try {
      const list = JSON.parse(readFileSync(this.recentFile(), 'utf8')) as Array<{ path: string; openedAt: string; team?: RecentProject['team'] }>;
      return list.map(({ path, openedAt, team }) => (team
        ? { path, openedAt, team: { server: team.server, user: team.user }, name: `${team.user} @ ${new URL(team.server).host}`, exists: true }
        : { path, openedAt, name: basename(path).replace(/\.[^.]+$/, ''), exists: existsSync(path) }));
    } catch {
      return [];
    }
  }

  private remember(path: string, team?: { server: string; user: string }): void {
    const same = (entry: RecentProject) => entry.path === path && entry.team?.user === team?.user;
    const list = [{ path, openedAt: new Date().toISOString(), team }, ...this.recent().filter((e) => !same(e))]
      .slice(0, 12).map(({ path, openedAt, team }) => (team ? { path, openedAt, team } : { path, openedAt }));
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
