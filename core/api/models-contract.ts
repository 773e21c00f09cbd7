/**
 * The model manager's part of the contract (merged into contract.ts as `models`): installed models with their
 * cards and the projects that use them, adding from a URL or a folder as a download with progress, removal, the
 * catalogue of exportable backbones, and switching the open project's model (a resumable re-embedding job).
 * Implemented by electron/services/models-api.ts.
 */
import { z } from 'zod';
import type { JobRecord, ModelRecord } from './records';

import { method } from './method';

const modelId = z.string().min(1).max(200);

export interface ModelDetails extends ModelRecord {
  /** MODEL_CARD.md beside model.json (markdown), or null when the model has none. */
  card: string | null;
}

/** Which models a project has embeddings for, and which one it works with. */
export interface ProjectModelUsage {
  path: string;
  name: string;
  /** Whether this is the project open in the studio. */
  open: boolean;
  /** The model the project works with; null when not known (the file could not be read). */
  activeModelId: string | null;
  /** Stored embeddings per model (images). */
  embeddings: Record<string, number>;
  /** Why the file could not be read, else null. */
  error: string | null;
}

/** The open project's model state: the status bar shows it. */
export interface ProjectModelState {
  activeModelId: string;
  /** A switch in progress: the model being embedded and its job. */
  switching: { modelId: string; jobId: number; done: number; total: number } | null;
  /** Stored embeddings per model: images and average bytes per image. */
  stored: Array<{ modelId: string; count: number; bytesPerImage: number }>;
}

/** One model being added (download or copy, then checks). Kept in memory by the studio, not per project. */
export interface ModelInstall {
  id: number;
  source: string;
  status: 'running' | 'done' | 'failed' | 'cancelled';
  /** Bytes on disk (a resumed download counts what it had), and the total when known. */
  done: number;
  total: number | null;
  etaSeconds: number | null;
  error: string | null;
  /** The installed model's id once done. */
  modelId: string | null;
  startedAt: string;
}

/** A public backbone the user exports on a connected machine (electron/models/catalogue.ts). */
export interface CatalogueEntry {
  id: string;
  name: string;
  licence: string;
  homepage: string;
  parameters: string;
  export: { family: 'dinov2' | 'sam'; variant: string; dim: number };
  /** Download the official weights, export with the committed exporter; then add the folder. */
  commands: string[];
  /** Measured here on random-weight exports; null until measured. */
  costs: {
    measuredBy: string;
    threads: number;
    image: string;
    input: string;
    cpuMsPerImage: number;
    wallMsPerImage: number;
    /** Stored per image (int8) at full dimension and with the export's --dim projection. */
    bytesPerImage: number;
    bytesPerImageProjected: number;
    dim: number;
    onnxBytes: number;
  } | null;
  /** GPU cost, or why there is none. */
  gpu: string;
  quality: Array<{ metric: string; value: string; source: string }>;
}

export const modelsContract = {
  models: {
    /** Installed models (built-in and user) with their cards. */
    list: method<ModelDetails[]>()(z.object({}).strict().optional()),
    /** The open project and the recent ones: which models each has embeddings for and works with. */
    usage: method<ProjectModelUsage[]>()(z.object({}).strict().optional()),
    catalogue: method<CatalogueEntry[]>()(z.object({}).strict().optional()),
    /** Starts adding a model from an http(s) URL of its model.json, a folder or a model.json path. */
    add: method<ModelInstall>()(z.object({ source: z.string().trim().min(1).max(4096), replace: z.boolean().optional() })),
    /** Adds started since the studio started, newest first. */
    installs: method<ModelInstall[]>()(z.object({}).strict().optional()),
    cancelInstall: method<void>()(z.object({ id: z.number().int().positive() })),
    /** Removes a user-added model (built-in ones are refused). */
    remove: method<void>()(z.object({ id: modelId })),
    /** The open project's active model and a switch in progress. */
    active: method<ProjectModelState>()(z.object({}).strict().optional()),
    /**
     * Switches the open project to a model: a job embeds every image with it (the current model stays in use
     * until all are done), then the project's active model changes and its search index is built.
     */
    use: method<JobRecord>()(z.object({ modelId })),
    /** Deletes the open project's embeddings (and search regions) of a model it no longer works with. */
    removeEmbeddings: method<{ removed: number }>()(z.object({ modelId })),
  },
};
