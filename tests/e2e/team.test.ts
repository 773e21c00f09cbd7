/**
 * Team projects in the studio end to end: a throwaway PostgreSQL cluster, a real `pixelwise serve` with an admin,
 * two labelers and three embedded images (a real worker process), the studio in web mode and Debian's Chromium.
 * The labeler opens the team project through the dialog by keyboard alone (a wrong password first: the server's
 * words in the dialog), sees the server and herself in the status bar, makes a mask with a click and finds it on the
 * server as version 1; an image another labeler holds opens read-only with who and until when; a save that lost a
 * race shows the conflict notice with both ways out, and neither loses anything; a reviewer reviews and does not
 * draw, an admin edits classes. Screenshots of the dialog, the
 * status bar, the read-only banner and the conflict go to the temp folder, or to the README's folder with
 *   PIXELWISE_SCREENSHOTS=docs/screenshots npx vitest run tests/e2e/team.test.ts
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { signIn, teamCall } from '../team-cli';
import { waitUntil } from './harness';
import { startTeamWorld, type TeamWorld } from './team-setup';

const screenshots = resolve(process.env.PIXELWISE_SCREENSHOTS ?? join(tmpdir(), 'pixelwise-team'));
const adminPassword = 'correct horse battery';
const annPassword = 'ann password 1';

let world: TeamWorld | undefined;
let origin: string;
let admin: string;
let page: Page;
let imageIds: number[];

const canvas = () => page.getByTestId('annotate-canvas');

interface StoredVersion {
  version: number;
  annotations: Array<{ id: number; classId: number | null }>;
}

/** What the server holds for an image, asked with the admin's session (not through the studio). */
async function onServer(imageId: number): Promise<StoredVersion> {
  const reply = await teamCall<StoredVersion>(origin, admin, 'annotations.get', { imageId });
  if (!reply.ok) throw new Error(reply.error?.message);
  return reply.result;
}

async function saveState(): Promise<string | null> {
  return page.getByTestId('save-state').getAttribute('data-state');
}

/** Opens image `id` from the grid (the editor first goes back to it) and waits for click-to-mask. */
async function openImage(id: number): Promise<void> {
  if (await page.getByTestId('annotate-view').count()) await page.getByTestId('back-to-grid').click();
  await page.locator(`[data-testid="image-tile"][data-id="${id}"]`).dblclick();
  await canvas().waitFor();
  await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid="annotate-canvas"]')?.dataset.engine === 'ready', null, { timeout: 120_000 });
}

/** A positive click at a fraction of the canvas, then Enter: one more object. */
async function clickObject(fx: number, fy: number): Promise<void> {
  const box = (await canvas().boundingBox())!;
  await page.mouse.click(box.x + box.width * fx, box.y + box.height * fy);
  await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('[data-testid="annotate-canvas"]')?.dataset.activeArea) > 0);
  await expect.poll(() => page.getByTestId('segmenting').count()).toBe(0);
  await page.keyboard.press('Enter');
}

beforeAll(async () => {
  mkdirSync(screenshots, { recursive: true });
  world = await startTeamWorld({
    adminPassword, images: 3, embed: true,
    users: [['ann', 'labeler', annPassword], ['bob', 'labeler', 'bob password 1'], ['rita', 'reviewer', 'rita password 1']],
  });
  ({ origin, admin, page, imageIds } = world);
}, 300_000);

afterAll(async () => {
  await world?.stop();
});

describe('team project in the studio', () => {
  it('opens through the dialog by keyboard: a wrong password in the server\'s words, then the project; the status bar says where and who', async () => {
    await page.getByTestId('projects-view').waitFor();
    await page.keyboard.press('Alt+t');
    const dialog = page.getByTestId('team-dialog');
    await dialog.waitFor();
    await page.keyboard.type(origin);
    await page.keyboard.press('Tab');
    await page.keyboard.type('ann');
    await page.keyboard.press('Tab');
    await page.keyboard.type('not her password');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByTestId('team-error').textContent()).toContain('wrong user name or password');
    // The address and name stay; the password is asked again, with focus on it.
    expect(await page.getByTestId('team-server').inputValue()).toBe(origin);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('team-password');
    await page.keyboard.type(annPassword);
    await page.getByTestId('team-error').evaluate((element) => element.remove()); // the screenshot shows the filled form
    await dialog.screenshot({ path: join(screenshots, 'team-dialog.png') });
    await page.keyboard.press('Enter');
    await page.getByTestId('images-view').waitFor({ timeout: 30_000 });
    expect(await dialog.count()).toBe(0);

    const location = page.getByTestId('project-location');
    expect(await location.getAttribute('data-team')).toBe('yes');
    expect(await location.textContent()).toContain(new URL(origin).host);
    expect(await page.getByTestId('project-user').textContent()).toBe('ann (labeler)');
    await page.getByTestId('jobs-panel').screenshot({ path: join(screenshots, 'team-status-bar.png') });

    // What a team project does not offer is off, with the reason (importing a dataset; exporting is offered); a
    // labeler edits no classes.
    await page.getByTestId('dataset-menu').click();
    expect(await page.getByTestId('export-open').isDisabled()).toBe(false);
    expect(await page.getByTestId('dataset-import-open').isDisabled()).toBe(true);
    expect(await page.getByTestId('dataset-import-open').getAttribute('title')).toContain('team project does not offer');
    await page.keyboard.press('Escape');
    expect(await page.getByTestId('class-add').count()).toBe(0);
    await expect.poll(() => page.getByTestId('image-tile').count()).toBe(3);
  });

  it('a click makes a mask that the server stores as version 1', async () => {
    await openImage(imageIds[0]);
    expect(await page.getByTestId('claim-banner').count()).toBe(0);
    await clickObject(0.5, 0.5);
    await expect.poll(saveState, { timeout: 20_000 }).toBe('saved');
    const stored = await onServer(imageIds[0]);
    expect(stored.version).toBe(1);
    expect(stored.annotations).toHaveLength(1);
    // Ann holds the image while it is open: bob is refused.
    const bob = await signIn(origin, 'bob', 'bob password 1');
    expect((await teamCall(origin, bob, 'leases.claim', { imageId: imageIds[0] })).error?.code).toBe('leased');
  });

  it('an image another labeler holds opens read-only: who and until when, no tools, nothing saved', async () => {
    const bob = await signIn(origin, 'bob', 'bob password 1');
    expect((await teamCall(origin, bob, 'leases.claim', { imageId: imageIds[1] })).ok).toBe(true);
    await openImage(imageIds[1]);
    const banner = page.getByTestId('claim-banner');
    await banner.waitFor();
    // Ann left the first image: it was given back, so bob could take it now.
    await waitUntil(() => teamCall(origin, bob, 'leases.claim', { imageId: imageIds[0] }), (reply) => reply.ok, 'the image ann left released', 10_000);
    await teamCall(origin, bob, 'leases.release', { imageId: imageIds[0] });
    expect(await banner.textContent()).toMatch(/Being labeled by bob until/);
    expect(await page.getByTestId('tool-clicks').isDisabled()).toBe(true);
    await page.locator('.annotate-view').screenshot({ path: join(screenshots, 'team-read-only.png') });
    const box = (await canvas().boundingBox())!;
    await page.mouse.click(box.x + box.width * 0.5, box.y + box.height * 0.5);
    await page.keyboard.press('Enter');
    expect(await page.getByTestId('object-item').count()).toBe(0);
    expect((await onServer(imageIds[1])).version).toBe(0);
    // Bob lets go: Check again makes it ann's.
    await teamCall(origin, bob, 'leases.release', { imageId: imageIds[1] });
    await page.getByTestId('claim-recheck').click();
    await expect.poll(() => banner.count()).toBe(0);
    expect(await page.getByTestId('tool-clicks').isDisabled()).toBe(false);
  });

  it('a conflict keeps the labeler\'s objects on screen; Keep mine saves them over, Load their version shows theirs with hers one Undo away', async () => {
    await openImage(imageIds[0]);
    await expect.poll(() => page.getByTestId('object-item').count()).toBe(1);
    // Ann's second tab saves the image meanwhile (an empty image: version 2).
    const tab = await signIn(origin, 'ann', annPassword);
    const raced = await teamCall(origin, tab, 'annotations.save', { imageId: imageIds[0], baseVersion: 1, saveId: 'tab-2', annotations: [] });
    expect(raced.result.version).toBe(2);

    await clickObject(0.25, 0.3);
    const notice = page.getByTestId('conflict-notice');
    await notice.waitFor({ timeout: 20_000 });
    expect(await saveState()).toBe('conflict');
    expect(await page.getByTestId('object-item').count()).toBe(2);
    await page.locator('.annotate-view').screenshot({ path: join(screenshots, 'team-conflict.png') });
    // Left by the header's tab (which does not wait for saves) and opened again: her objects and the choice come back.
    await page.getByTestId('view-images').click();
    await page.locator(`[data-testid="image-tile"][data-id="${imageIds[0]}"]`).dblclick();
    await notice.waitFor();
    expect(await page.getByTestId('object-item').count()).toBe(2);
    expect((await onServer(imageIds[0])).annotations).toHaveLength(0);
    await page.getByTestId('conflict-mine').click();
    await expect.poll(saveState, { timeout: 20_000 }).toBe('saved');
    const mine = await onServer(imageIds[0]);
    expect([mine.version, mine.annotations.length]).toEqual([3, 2]);

    // Again, and this time her version goes: theirs (empty) shows, and one Undo brings hers back (and saves it).
    await teamCall(origin, tab, 'annotations.save', { imageId: imageIds[0], baseVersion: 3, saveId: 'tab-3', annotations: [] });
    await page.getByTestId('object-visibility').first().click();
    await notice.waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('object-item').count()).toBe(2);
    await page.getByTestId('conflict-theirs').click();
    await expect.poll(() => page.getByTestId('object-item').count()).toBe(0);
    expect(await saveState()).toBe('saved');
    expect((await onServer(imageIds[0])).annotations).toHaveLength(0);
    await page.keyboard.press('Control+z');
    await expect.poll(() => page.getByTestId('object-item').count()).toBe(2);
    await expect.poll(saveState, { timeout: 20_000 }).toBe('saved');
    await waitUntil(() => onServer(imageIds[0]), (stored) => stored.annotations.length === 2, 'her objects back on the server', 20_000);
  });

  it('an image taken over while open: the save stops with a read-only banner, nothing lost; once it is back, Check again saves', async () => {
    expect(await page.getByTestId('conflict-notice').count()).toBe(0);
    const before = await onServer(imageIds[0]);
    // The admin takes the image from ann and gives it to bob.
    await teamCall(origin, admin, 'leases.revoke', { imageId: imageIds[0] });
    const assigned = await teamCall(origin, admin, 'leases.assign', { imageId: imageIds[0], user: 'bob', hours: 1 });
    expect(assigned.ok).toBe(true);
    await page.getByTestId('object-visibility').first().click();
    const banner = page.getByTestId('claim-banner');
    await banner.waitFor({ timeout: 20_000 });
    expect(await saveState()).toBe('leased');
    await expect.poll(() => banner.textContent()).toMatch(/Being labeled by bob until/);
    expect(await page.getByTestId('tool-clicks').isDisabled()).toBe(true);
    expect(await page.getByTestId('object-item').count()).toBe(2);
    expect((await onServer(imageIds[0])).version).toBe(before.version);
    await teamCall(origin, admin, 'leases.revoke', { imageId: imageIds[0] });
    await page.getByTestId('claim-recheck').click();
    await expect.poll(saveState, { timeout: 20_000 }).toBe('saved');
    expect(await banner.count()).toBe(0);
    expect((await onServer(imageIds[0])).version).toBe(before.version + 1);
  });

  it('the claim is renewed every 2 minutes while the image stays open (the page\'s clock jumps ahead)', async () => {
    await page.clock.install();
    await page.reload();
    await canvas().waitFor();
    const lease = async () => (await teamCall(origin, admin, 'images.get', { id: imageIds[0] })).result.lease as { userName: string; expiresAt: string } | null;
    // Settled: the claim made when the image opened again has landed, and nothing renews it in the next second.
    const [first] = await waitUntil(async () => {
      const before = await lease();
      await new Promise((resolveWait) => setTimeout(resolveWait, 1000));
      return [before, await lease()] as const;
    }, ([before, after]) => before?.userName === 'ann' && before.expiresAt === after?.expiresAt, 'ann holding the image after the reload', 15_000);
    await page.clock.fastForward('02:01');
    const renewed = await waitUntil(lease, (held) => held !== null && Date.parse(held.expiresAt) > Date.parse(first!.expiresAt), 'the lease renewed', 10_000);
    expect(renewed!.userName).toBe('ann');
  });

  it('a recent team project asks for the password again; a reviewer accepts from the editor and has no drawing tools', async () => {
    await page.getByTestId('back-to-grid').click();
    await page.getByTestId('project-close').click();
    const recent = page.locator('[data-testid="recent-project"][data-team="yes"]');
    await recent.waitFor();
    expect(await recent.textContent()).toContain(`ann on ${new URL(origin).host}`);
    await page.getByTestId('projects-view').screenshot({ path: join(screenshots, 'team-recent.png') });
    await recent.click();
    await page.getByTestId('team-dialog').waitFor();
    expect(await page.getByTestId('team-server').inputValue()).toBe(origin);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('team-password');
    await page.getByTestId('team-user').fill('rita');
    await page.getByTestId('team-password').focus();
    await page.keyboard.type('rita password 1');
    await page.keyboard.press('Enter');
    await page.getByTestId('images-view').waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('project-user').textContent()).toBe('rita (reviewer)');

    await openImage(imageIds[0]);
    await page.getByTestId('review-banner').waitFor();
    await page.locator('.annotate-view').screenshot({ path: join(screenshots, 'team-reviewer.png') });
    expect(await page.getByTestId('tool-brush').isDisabled()).toBe(true);
    expect(await page.getByTestId('object-delete').first().isDisabled()).toBe(true);
    await page.getByTestId('review-accept').click();
    await waitUntil(async () => (await teamCall(origin, admin, 'images.get', { id: imageIds[0] })).result.status, (status) => status === 'reviewed', 'the image reviewed on the server', 20_000);
  });

  it('an admin is offered image import, edits classes (stored on the server) and exports what the server holds as COCO', async () => {
    await page.getByTestId('back-to-grid').click();
    await page.getByTestId('project-close').click();
    await page.locator('[data-testid="recent-project"][data-team="yes"]').first().click();
    await page.getByTestId('team-user').fill('admin');
    await page.getByTestId('team-password').fill(adminPassword);
    await page.getByTestId('team-submit').click();
    await page.getByTestId('images-view').waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('project-user').textContent()).toBe('admin (admin)');
    expect(await page.getByTestId('import-open').isDisabled()).toBe(false);
    await page.getByTestId('class-name-input').fill('mug');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByTestId('class-item').count()).toBe(1);
    const classes = await teamCall<Array<{ name: string }>>(origin, admin, 'classes.list');
    expect(classes.result.map((item) => item.name)).toEqual(['mug']);

    // COCO keeps only objects with a class: the admin gives one image's objects the new class on the server.
    const mug = (classes.result as Array<{ id: number; name: string }>)[0].id;
    const labelled = (await Promise.all(imageIds.map(async (imageId) => ({ imageId, ...(await onServer(imageId)) })))).find((image) => image.annotations.length > 0)!;
    expect((await teamCall(origin, admin, 'leases.claim', { imageId: labelled.imageId })).ok).toBe(true);
    const saved = await teamCall(origin, admin, 'annotations.save', { imageId: labelled.imageId, baseVersion: labelled.version,
      annotations: labelled.annotations.map((annotation) => ({ ...annotation, classId: mug })) });
    expect(saved.ok, saved.error?.message).toBe(true);
    await teamCall(origin, admin, 'leases.release', { imageId: labelled.imageId });

    const target = join(screenshots, `export-${Date.now()}`);
    await page.getByTestId('dataset-menu').click();
    await page.getByTestId('export-open').click();
    await page.getByTestId('export-dialog').waitFor();
    await page.getByTestId('export-format').selectOption('coco');
    await page.getByTestId('export-target').fill(target);
    await page.getByTestId('export-target').press('Enter');
    const result = page.getByTestId('export-result');
    await result.waitFor({ timeout: 60_000 });
    expect(await result.getAttribute('data-images')).toBe(String(imageIds.length));
    await page.getByTestId('export-dialog').screenshot({ path: join(screenshots, 'team-export.png') });
    const coco = JSON.parse(readFileSync(join(target, 'annotations.json'), 'utf8')) as { images: unknown[]; annotations: Array<{ category_id: number }>; categories: Array<{ id: number; name: string }> };
    expect([coco.images.length, coco.annotations.length]).toEqual([imageIds.length, labelled.annotations.length]);
    expect(coco.categories.find((category) => category.id === coco.annotations[0].category_id)?.name).toBe('mug');
    await page.keyboard.press('Escape');
  });
});
