/**
 * The editor's hold on the open image. On a team project that is a lease on the server (team.claim), so two
 * labelers do not work on one image unknowingly: claimed when the image opens, renewed every 2 minutes while it
 * stays open (the server's lease lasts longer, so one lost renewal costs nothing), given back (team.release) when
 * the editor leaves the image, once its objects are stored, or when the page goes away (leaveWithPage). Someone else's hold is `claim.held === false`: the
 * editor then shows who holds it until when and changes nothing. A project file always answers held.
 */
import { ref, shallowRef } from 'vue';
import type { ImageClaim } from '../../../core/api/team-contract';
import { api, sendWhileLeaving } from '../api';
import { errorMessage } from '../stores/notices';

export const claimRenewMs = 120_000;

export interface ClaimHooks {
  /** Whether this account edits at all: a reviewer claims nothing. */
  canDraw: () => boolean;
  /** The image is held (again): a save stopped because someone else held it can go on. */
  onHeld: () => void;
  /** Resolves true once image `id`'s objects are stored, before the image is given back. */
  stored: (id: number) => Promise<boolean>;
}

export function useImageClaim(hooks: ClaimHooks) {
  /** The last answer for the open image; null before it arrives (and for a reviewer). */
  const claim = shallowRef<ImageClaim | null>(null);
  /** Why the claim could not be asked for (the server is unreachable), else null. */
  const claimError = ref<string | null>(null);
  let imageId: number | null = null;
  let token = 0;
  let timer: ReturnType<typeof setInterval> | null = null;

  async function request(id: number, mine: number): Promise<void> {
    try {
      const answer = await api.team.claim({ imageId: id });
      if (mine !== token) {
        // The editor moved on while the claim was on its way: give it straight back.
        if (answer.held && imageId !== id) void giveBack(id);
        return;
      }
      claim.value = answer;
      claimError.value = null;
      if (answer.held) hooks.onHeld();
    } catch (error) {
      if (mine === token) claimError.value = errorMessage(error);
    }
  }

  async function giveBack(id: number): Promise<void> {
    if (!(await hooks.stored(id)) || imageId === id) return; // unsaved, or opened again: keep holding it
    // Not given back (the server is unreachable): the lease ends by itself when it expires.
    await api.team.release({ imageId: id }).catch(() => undefined);
  }

  /** The editor opened image `id`. */
  function take(id: number): void {
    void leave();
    imageId = id;
    const mine = ++token;
    if (!hooks.canDraw()) return;
    void request(id, mine);
    timer = setInterval(() => void request(id, mine), claimRenewMs);
  }

  /** Asks again now (the read-only banner's "Check again"). */
  function recheck(): void {
    if (imageId !== null && hooks.canDraw()) void request(imageId, token);
  }

  /** The editor left the image (another one, the grid, another project): give it back once it is stored. */
  function leave(): Promise<void> {
    if (timer) clearInterval(timer);
    timer = null;
    const id = imageId, held = claim.value?.held ?? false;
    imageId = null;
    token++;
    claim.value = null;
    claimError.value = null;
    return id !== null && held ? giveBack(id) : Promise.resolve();
  }

  /**
   * The page is going away (web mode's pagehide), after its last saves were sent: the held image goes back with a
   * request that outlives the page, so the next labeler need not wait for the lease to run out. The main side runs
   * it after the image's saves already on their way (electron/team/connection.ts release). A page kept in the
   * back/forward cache and shown again asks again (recheck). In Electron the window's close closes the team
   * project, which gives back what it holds.
   */
  function leaveWithPage(): void {
    const held = claim.value;
    // until is null on a project file: nothing is leased there.
    if (imageId !== null && held?.held && held.until !== null) sendWhileLeaving('team', 'release', { imageId });
  }

  return { claim, claimError, take, recheck, leave, leaveWithPage };
}
