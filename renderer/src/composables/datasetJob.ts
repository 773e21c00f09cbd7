/**
 * Follows one dataset job from the dialog that started it: the job's record (status, done/total, result or
 * error) refreshed a few times a second until it ends. The status bar follows the same job through the jobs store,
 * so closing the dialog early loses nothing.
 */
import { onBeforeUnmount, ref } from 'vue';
import type { JobRecord } from '../../../core/api/records';
import { api } from '../api';
import { useJobsStore } from '../stores/jobs';

const pollMs = 250;

export interface ExportJobResult {
  path: string;
  images: number;
  annotations: number;
  warnings: string[];
}

export interface ImportJobResult {
  images: number;
  annotations: number;
  classes: number;
  addedImages: number;
  warnings: string[];
}

export function isFinished(job: JobRecord | null): boolean {
  return job !== null && ['done', 'failed', 'cancelled'].includes(job.status);
}

export function useDatasetJob() {
  const job = ref<JobRecord | null>(null);
  let stopped = false;

  /** Shows `started` at once and resolves with its final record (done, failed or cancelled). */
  async function follow(started: JobRecord): Promise<JobRecord> {
    job.value = started;
    useJobsStore().track(started);
    while (!stopped) {
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      const current = (await api.jobs.list({ activeOnly: true })).find((item) => item.id === started.id);
      if (current) {
        job.value = current;
        continue;
      }
      const final = (await api.jobs.list({ activeOnly: false })).find((item) => item.id === started.id);
      if (final) {
        job.value = final;
        useJobsStore().refresh(); // the status bar shows the same end now, not at its next poll
        return final;
      }
    }
    return job.value ?? started;
  }

  onBeforeUnmount(() => {
    stopped = true;
  });

  return { job, follow };
}
