/**
 * One request at a time for a store: `busy` names what runs (for spinners), `error` holds the last failure.
 * `guarded(kind, work)` refuses while busy and turns a thrown error into `error`; true when the work succeeded.
 */
import type { Ref } from 'vue';
import { errorMessage } from '../stores/notices';

export function busyGuard<Kind extends string>(busy: Ref<Kind | null>, error: Ref<string | null>) {
  return async function guarded(kind: Kind, work: () => Promise<void>): Promise<boolean> {
    if (busy.value) return false;
    busy.value = kind;
    error.value = null;
    try {
      await work();
      return true;
    } catch (cause) {
      error.value = errorMessage(cause);
      return false;
    } finally {
      busy.value = null;
    }
  };
}
