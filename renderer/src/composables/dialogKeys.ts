/**
 * Keyboard handling shared by the dataset dialogs: Tab and Shift+Tab cycle through the dialog's focusable
 * controls only (focus trap), Escape closes, Enter submits unless focus is on a button, link or textarea
 * (where Enter already means something).
 */
const focusableSelector = 'button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), a[href], [tabindex]:not([tabindex="-1"])';

export function focusableIn(container: HTMLElement): HTMLElement[] {
  return [...container.querySelectorAll<HTMLElement>(focusableSelector)].filter((element) => element.offsetParent !== null);
}

export interface DialogKeyActions {
  close: () => void;
  submit: () => void;
}

/** Returns the keydown handler for a dialog root (the element holding role="dialog"). */
export function dialogKeydown(container: () => HTMLElement | null, actions: DialogKeyActions): (event: KeyboardEvent) => void {
  return (event) => {
    const root = container();
    if (!root) return;
    const target = event.target as HTMLElement;
    if (event.key === 'Escape') {
      actions.close();
    } else if (event.key === 'Tab') {
      const items = focusableIn(root);
      if (items.length === 0) return;
      const index = items.indexOf(document.activeElement as HTMLElement);
      const next = event.shiftKey ? (index <= 0 ? items.length - 1 : index - 1) : (index + 1) % items.length;
      items[next].focus();
    } else if (event.key === 'Enter' && !['BUTTON', 'A', 'TEXTAREA'].includes(target.tagName) && !event.isComposing) {
      actions.submit();
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
  };
}
