/**
 * Accounts and leaving on a team project, end to end (tests/e2e/team-setup.ts: a throwaway PostgreSQL cluster, a
 * real `pixelwise serve`, the studio in web mode and Debian's Chromium). An admin opens Accounts by keyboard (Alt+U)
 * and adds a labeler (the server's password rule first, in its words), who then signs in; disabling her, after the
 * confirmation that says what happens, ends her session and frees the image she held; demoting the last admin shows
 * the server's words and changes nothing; a password reset ends the account's sessions. An image held in the editor is free for someone else right after the page
 * goes away (the page navigates off: a real pagehide). The panel's screenshot goes to the temp folder, or with
 *   PIXELWISE_SCREENSHOTS=docs/screenshots npx vitest run tests/e2e/team-accounts.test.ts
 * to the README's folder.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { signIn, teamCall } from '../team-cli';
import { waitUntil } from './harness';
import { openTeamByKeyboard, startTeamWorld, type TeamWorld } from './team-setup';

const screenshots = resolve(process.env.PIXELWISE_SCREENSHOTS ?? join(tmpdir(), 'pixelwise-team'));
const adminPassword = 'correct horse battery';
const lenaPassword = 'lena password 1';

let world: TeamWorld;
let page: Page;

/** Who holds the image on the server now (asked with the admin's session), or null. */
async function holder(imageId: number): Promise<string | null> {
  const reply = await teamCall(world.origin, world.admin, 'images.get', { id: imageId });
  return (reply.result.lease as { userName: string } | null)?.userName ?? null;
}

const row = (name: string) => page.locator(`[data-testid="account-row"][data-account="${name}"]`);

beforeAll(async () => {
  mkdirSync(screenshots, { recursive: true });
  world = await startTeamWorld({ adminPassword, images: 2, embed: false, users: [['ann', 'labeler', 'ann password 1']] });
  page = world.page;
}, 300_000);

afterAll(async () => {
  await world?.stop();
});

describe('accounts of a team project', () => {
  it('an admin opens Accounts by keyboard and adds a labeler, who can sign in; the server\'s password rule in its words first', async () => {
    await openTeamByKeyboard(page, world.origin, 'admin', adminPassword);
    await page.keyboard.press('Alt+u');
    const dialog = page.getByTestId('accounts-dialog');
    await dialog.waitFor();
    await expect.poll(() => page.getByTestId('account-row').count()).toBe(2);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('accounts-new-name');
    await page.keyboard.type('lena');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('accounts-new-role');
    expect(await page.getByTestId('accounts-new-role').inputValue()).toBe('labeler');
    await page.keyboard.press('Tab');
    await page.keyboard.type('too short');
    await page.keyboard.press('Enter');
    const error = page.getByTestId('accounts-error');
    await expect.poll(() => error.textContent()).toContain('a password needs at least 10 characters');
    expect(await row('lena').count()).toBe(0);
    // The name stays; focus is back on the password to correct it.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('accounts-new-password');
    await page.keyboard.press('Control+a');
    await page.keyboard.type(lenaPassword);
    await page.keyboard.press('Enter');
    await row('lena').waitFor();
    expect([await row('lena').getAttribute('data-role'), await row('lena').getAttribute('data-disabled')]).toEqual(['labeler', 'no']);
    expect(await error.count()).toBe(0);
    expect(await page.getByTestId('accounts-done').textContent()).toContain('lena');
    expect(await page.getByTestId('accounts-new-name').inputValue()).toBe('');

    const lena = await signIn(world.origin, 'lena', lenaPassword);
    expect((await teamCall(world.origin, lena, 'auth.me')).result.role).toBe('labeler');
    await dialog.screenshot({ path: join(screenshots, 'team-accounts.png') });
  });

  it('disabling a labeler asks first, then ends her session and frees the image she held', async () => {
    const lena = await signIn(world.origin, 'lena', lenaPassword);
    const [image] = world.imageIds;
    expect((await teamCall(world.origin, lena, 'leases.claim', { imageId: image })).ok).toBe(true);
    await row('lena').getByTestId('account-disable').click();
    const confirmDialog = page.getByTestId('confirm-dialog');
    await confirmDialog.waitFor();
    expect(await confirmDialog.textContent()).toContain('their sessions end now and the images they hold are freed');
    // Cancel changes nothing.
    await page.keyboard.press('Escape');
    expect(await row('lena').getAttribute('data-disabled')).toBe('no');
    expect((await teamCall(world.origin, lena, 'auth.me')).ok).toBe(true);

    await row('lena').getByTestId('account-disable').click();
    await page.getByTestId('confirm-dialog').screenshot({ path: join(screenshots, 'team-accounts-disable.png') });
    await page.getByTestId('confirm-ok').click();
    await expect.poll(() => row('lena').getAttribute('data-disabled')).toBe('yes');
    expect(await page.getByTestId('accounts-done').textContent()).toBe('lena is disabled: 2 session(s) ended, 1 image(s) freed.');
    expect((await teamCall(world.origin, lena, 'auth.me')).error?.code).toBe('account-disabled');
    expect(await holder(image)).toBeNull();
    expect((await teamCall(world.origin, lena, 'auth.login', { name: 'lena', password: lenaPassword })).error?.code).toBe('account-disabled');
  });

  it('a password reset asks first, ends the account\'s sessions, and the new password signs in', async () => {
    const before = await signIn(world.origin, 'ann', 'ann password 1');
    await row('ann').getByTestId('account-reset').click();
    await page.getByTestId('accounts-reset-form').waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('accounts-reset-password');
    await page.keyboard.type('ann password 2');
    await page.keyboard.press('Enter');
    await page.getByTestId('confirm-dialog').waitFor();
    await page.getByTestId('confirm-ok').click();
    await expect.poll(() => page.getByTestId('accounts-done').textContent()).toBe('The password of ann was reset.');
    expect(await page.getByTestId('accounts-reset-form').count()).toBe(0);
    expect((await teamCall(world.origin, before, 'auth.me')).error?.message).toContain('an admin reset your password');
    expect((await teamCall(world.origin, null, 'auth.login', { name: 'ann', password: 'ann password 2' })).ok).toBe(true);
  });

  it('demoting the last admin shows the server\'s words and leaves the role as it was', async () => {
    const select = row('admin').getByTestId('account-role');
    await select.selectOption('reviewer');
    await page.getByTestId('confirm-dialog').waitFor();
    await page.getByTestId('confirm-ok').click();
    await expect.poll(() => page.getByTestId('accounts-error').textContent()).toContain('admin is the only enabled admin; make another account an admin first');
    expect(await page.getByTestId('accounts-error').getAttribute('data-code')).toBe('last-admin');
    expect(await select.inputValue()).toBe('admin');
    expect((await teamCall(world.origin, world.admin, 'auth.me')).result.role).toBe('admin');
    // Escape closes the panel; focus goes back to the status bar's user.
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByTestId('accounts-dialog').count()).toBe(0);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('project-user');
  });

  it('speaks Russian too', async () => {
    await page.getByTestId('language-ru').click();
    await page.keyboard.press('Alt+u');
    const dialog = page.getByTestId('accounts-dialog');
    await dialog.waitFor();
    expect(await dialog.locator('h2').textContent()).toBe('Учётные записи');
    expect(await row('lena').getByTestId('account-disable').textContent()).toContain('Включить');
    await dialog.screenshot({ path: join(tmpdir(), 'pixelwise-team', 'team-accounts-ru.png') });
    await page.keyboard.press('Escape');
    await page.getByTestId('language-en').click();
  });

  it('an image held in the editor is free for another labeler right after the page goes away', async () => {
    const image = world.imageIds[1];
    await page.locator(`[data-testid="image-tile"][data-id="${image}"]`).dblclick();
    await page.getByTestId('annotate-view').waitFor();
    await waitUntil(() => holder(image), (name) => name === 'admin', 'the editor holding the image', 15_000);
    await page.goto('about:blank');
    // Without the release the lease would last its 15 minutes.
    await waitUntil(() => holder(image), (name) => name === null, 'the image given back', 5_000);
    const ann = await signIn(world.origin, 'ann', 'ann password 2');
    expect((await teamCall(world.origin, ann, 'leases.claim', { imageId: image })).result.userName).toBe('ann');
  });
});
