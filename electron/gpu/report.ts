/** The GPU diagnosis for the running studio: the embedding worker's real provider attempts, then the checks. */
import type { GpuDiagnosis } from '../../core/api/records';
import type { Studio } from '../services/studio';
import { diagnoseGpu } from './diagnose';

/**
 * Before any embedding ran there is no session to report on, so this loads the default model into the worker
 * (the same load the first embedding does, about a second on CPU): the active provider is then a fact, not a guess.
 */
export async function gpuReport(studio: Studio): Promise<GpuDiagnosis> {
  if (studio.worker.runtime.provider === null) {
    try {
      await studio.worker.load(studio.registry.get(studio.modelId()).dir);
    } catch {
      // no provider could load the model: the diagnosis reports no active provider, and its findings say why
    }
  }
  return diagnoseGpu(studio.worker.runtime);
}
