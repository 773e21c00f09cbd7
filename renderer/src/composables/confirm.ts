/**
 * Promise-based confirmation dialog: `if (await confirm({...})) doIt()`. One dialog at a time, rendered by
 * AppConfirmDialog in the shell; Enter confirms, Escape cancels.
 */
import { shallowRef } from 'vue';

export interface ConfirmOptions {
  /** Already translated. */
  title: string;
  message: string;
  confirmLabel: string;
  cancelLabel: string;
  /** Red confirm button, for destructive actions. */
  danger?: boolean;
}

interface PendingConfirm extends ConfirmOptions {
  resolve: (confirmed: boolean) => void;
}

export const pendingConfirm = shallowRef<PendingConfirm | null>(null);

export function confirm(options: ConfirmOptions): Promise<boolean> {
  pendingConfirm.value?.resolve(false);
  return new Promise((resolve) => {
    pendingConfirm.value = {
      ...options,
      resolve: (confirmed) => {
        pendingConfirm.value = null;
        resolve(confirmed);
      },
    };
  });
}
