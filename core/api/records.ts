/** Records exchanged between the main side and the renderer. Coordinates are image pixels, times ISO strings. */
import type { ModelManifest } from '../manifest';
import type { Bbox } from '../mask';
import type { Rle } from '../rle';
import type { TeamInfo } from './team-contract';

export const imageStatuses = ['new', 'embedded', 'annotated', 'reviewed', 'failed'] as const;
export type ImageStatus = (typeof imageStatuses)[number];

export interface ProjectInfo {
  /** Absolute path of the project's SQLite file. */
  path: string;
  name: string;
  schemaVersion: number;
  imageCount: number;
  statusCounts: Record<ImageStatus, number>;
  classCount: number;
  annotationCount: number;
  /** Set when the project lives on a team server (`path` is then the server's address). */
  team?: TeamInfo | null;
}

export interface RecentProject {
  /** The project file, or a team project's server address. */
  path: string;
  name: string;
  openedAt: string;
  /** The file exists (always true for a team project: the server is asked only when it is opened). */
  exists: boolean;
  /** Set for a team project: where and as whom to sign in again (the password is asked for again, never kept). */
  team?: { server: string; user: string } | null;
}

export interface ImageRecord {
  id: number;
  /** As stored: relative to the project file's folder where possible, else absolute. */
  path: string;
  fileName: string;
  width: number;
  height: number;
  byteSize: number;
  /** sha256 of the file content, hex; null for files that failed to import. */
  hash: string | null;
  status: ImageStatus;
  /** Why import or embedding failed, else null. */
  error: string | null;
  annotationCount: number;
  addedAt: string;
  /** Made by Augment from another image (sourceImageId, null once that image is removed). */
  synthetic: boolean;
  sourceImageId: number | null;
}

export interface ImagePage {
  items: ImageRecord[];
  total: number;
}

export interface ClassRecord {
  id: number;
  name: string;
  /** CSS hex colour, "#rrggbb". */
  color: string;
}

export interface AnnotationRecord {
  id: number;
  imageId: number;
  classId: number | null;
  rle: Rle;
  bbox: Bbox;
  area: number;
  /** Engine score when the mask came from clicks or search, else null. */
  score: number | null;
  /** Drawing order, lower first. */
  order: number;
  visible: boolean;
  source: 'manual' | 'clicks' | 'search' | 'discovery' | 'import';
  createdAt: string;
  updatedAt: string;
}

/** What the editor sends to save one object; id absent for a new object. */
export interface AnnotationDraft {
  id?: number;
  classId: number | null;
  rle: Rle;
  score?: number | null;
  order?: number;
  visible?: boolean;
  source?: AnnotationRecord['source'];
}

export const jobKinds = ['import', 'embed', 'dataset-import', 'dataset-export', 'augment'] as const;
export type JobKind = (typeof jobKinds)[number];
export type JobStatus = 'queued' | 'running' | 'done' | 'cancelled' | 'failed';

export interface JobRecord {
  id: number;
  kind: JobKind;
  status: JobStatus;
  /** Units of work (images, or the current stage's steps for dataset jobs). */
  total: number;
  done: number;
  failed: number;
  /** Seconds left at the current rate, null until it can be estimated. */
  etaSeconds: number | null;
  error: string | null;
  /** What a finished dataset job produced (counts, path, warnings); null otherwise. */
  result: unknown;
  createdAt: string;
  finishedAt: string | null;
}

export type ExecutionProvider = 'cuda' | 'cpu';

export interface ModelRecord {
  id: string;
  manifest: ModelManifest;
  /** Whether the ONNX file is present and its sha256 matches the manifest. */
  available: boolean;
  builtin: boolean;
  /** Bytes of the model's folder on disk. */
  sizeOnDisk: number;
  /** Where a user model was added from (a URL or a path); null for built-in or hand-copied models. */
  source: string | null;
}

export interface RuntimeInfo {
  /** The provider sessions actually run on; null before the first session was created. */
  provider: ExecutionProvider | null;
  /** Providers tried, in order, with why each one that was skipped failed. */
  attempts: Array<{ provider: ExecutionProvider; ok: boolean; error: string | null }>;
  defaultModelId: string;
  mode: 'electron' | 'web';
}

/** Why CUDA is not the active provider, in the order the checks run (see electron/gpu/diagnose.ts). */
export const gpuFindingCodes = [
  'platform-unsupported', 'no-driver', 'driver-library-missing', 'cuda-missing', 'cuda-wrong-version', 'cudnn-missing',
  'cudnn-wrong-version', 'provider-not-installed', 'session-failed', 'cuda-not-requested',
] as const;
export type GpuFindingCode = (typeof gpuFindingCodes)[number];

export interface GpuFinding {
  code: GpuFindingCode;
  /** A few words: what the status bar shows after "CUDA unavailable:". */
  title: string;
  /** One plain English sentence; the renderer words it from `code` and `params` in the interface language. */
  message: string;
  fix: string;
  /** The command that fixes it, or null. */
  command: string | null;
  /** Where to read more or download from, or null. */
  link: string | null;
  /** Values the message names: libraries, versions, folders, onnxruntime's error. */
  params: Record<string, string>;
}

export interface GpuDiagnosis {
  /** The provider sessions run on (null before the first session); CUDA is never active with findings. */
  provider: ExecutionProvider | null;
  /** Whether CUDA was tried and failed: the fallback to CPU the status bar must announce. */
  cudaFailed: boolean;
  platform: string;
  /** The NVIDIA kernel module's version, from /proc/driver/nvidia/version, or null. */
  driverVersion: string | null;
  findings: GpuFinding[];
  attempts: RuntimeInfo['attempts'];
  /** Library folders searched, in order (LD_LIBRARY_PATH, then the ldconfig cache's, then the standard ones). */
  libraryDirs: string[];
}
