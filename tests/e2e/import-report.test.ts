/**
 * What an image import skipped, and what opening a bundle changed, shown to the labeler in Chromium (English and
 * Russian): the real web server, real files, a real bundle with a job and an outside image path planted in it.
 */
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { unzipSync, zipSync } from 'fflate';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeImages } from '../fixtures';
import { startStudio, type Studio } from './harness';

let studio: Studio;
let page: Page;

beforeAll(async () => {
  studio = await startStudio();
  page = studio.page;
}, 60_000);

afterAll(async () => {
  await studio?.close();
});

async function importFolder(folder: string): Promise<void> {
  await page.getByTestId('import-open').click();
  await page.getByTestId('import-paths').fill(folder);
  await page.getByTestId('import-paths').press('Control+Enter');
  await page.getByTestId('job-finished').waitFor({ timeout: 60_000 });
}

describe('import and bundle reports', () => {
  it('says how many files were already in the project or repeated another file', async () => {
    const photos = join(studio.dataDir, 'photos');
    const [first] = await writeImages(photos, 2, 96, 72);
    copyFileSync(first, join(photos, 'copy-of-first.jpg'));
    const linked = join(studio.dataDir, 'linked');
    mkdirSync(linked);
    symlinkSync(first, join(linked, 'first-link.jpg'));
    await studio.call('projects', 'create', { path: join(studio.dataDir, 'report.pixelwise') });
    await page.reload();
    await page.getByTestId('images-view').waitFor();

    await importFolder(photos);
    await expect.poll(() => page.getByTestId('job-same-content').textContent()).toBe('1 has the same content as another file');
    expect(await page.getByTestId('job-already-in-project').count()).toBe(0);
    await page.getByTestId('job-finished').getByRole('button').click();

    await importFolder(`${photos}\n${linked}`);
    // The two imported before, by path; the copy skipped before and the link, by content.
    await expect.poll(() => page.getByTestId('job-already-in-project').textContent()).toBe('2 already in the project');
    expect(await page.getByTestId('job-same-content').textContent()).toBe('2 have the same content as another file');
    await page.getByTestId('job-finished').screenshot({ path: join(studio.dataDir, 'import-report-en.png') });

    await page.getByTestId('language-ru').click();
    expect(await page.getByTestId('job-already-in-project').textContent()).toBe('2 уже в проекте');
    expect(await page.getByTestId('job-same-content').textContent()).toBe('2 совпадают по содержимому с другими файлами');
    await page.getByTestId('job-finished').screenshot({ path: join(studio.dataDir, 'import-report-ru.png') });
    await page.getByTestId('language-en').click();
  });

  it('a bundle export to an existing file is refused until "Replace the file" is ticked', async () => {
    const zip = join(studio.dataDir, 'existing.zip');
    writeFileSync(zip, 'my notes, not a bundle');
    await page.getByTestId('dataset-menu').click();
    await page.getByTestId('export-open').click();
    await page.getByTestId('export-format').selectOption('bundle');
    await page.getByTestId('export-target').fill(zip);
    await page.getByTestId('export-start').click();
    await expect.poll(() => page.getByTestId('export-error').textContent()).toContain('existing.zip: already exists; choose another file name or allow replacing it');
    expect(readFileSync(zip, 'utf8')).toBe('my notes, not a bundle');
    expect(await page.getByTestId('export-overwrite').locator('..').textContent()).toBe('Replace the file if it exists');
    await page.getByTestId('export-overwrite').check();
    await page.getByTestId('export-dialog').screenshot({ path: join(studio.dataDir, 'bundle-overwrite.png') });
    await page.getByTestId('export-start').click();
    await page.getByTestId('export-result').waitFor({ timeout: 60_000 });
    expect(Object.keys(unzipSync(readFileSync(zip)))).toContain('manifest.json');
    await page.getByTestId('export-close').click();
  });

  it('shows what opening a crafted bundle dropped and changed', async () => {
    const zip = join(studio.dataDir, 'plain.zip');
    await studio.call('datasets', 'export', { format: 'bundle', target: zip });
    await expect.poll(async () => (await studio.call<Array<{ status: string }>>('jobs', 'list', { activeOnly: true })).length).toBe(0);
    const entries = unzipSync(readFileSync(zip));
    const dbFile = join(studio.dataDir, 'tamper.pixelwise');
    writeFileSync(dbFile, entries['report.pixelwise']);
    const db = new Database(dbFile);
    db.prepare("INSERT INTO jobs (kind, status, payload) VALUES ('import', 'queued', ?)").run(JSON.stringify({ paths: ['/etc'] }));
    db.prepare('UPDATE images SET path = ? WHERE id = 1').run('/etc/hostname');
    db.close();
    entries['report.pixelwise'] = readFileSync(dbFile);
    const crafted = join(studio.dataDir, 'crafted.zip');
    writeFileSync(crafted, zipSync(entries));

    await page.getByTestId('project-close').click();
    await page.getByTestId('bundle-open').click();
    await page.getByTestId('bundle-file').fill(crafted);
    await page.getByTestId('bundle-target').fill(join(studio.dataDir, 'crafted-open'));
    await page.getByTestId('bundle-target').press('Enter');
    await page.getByTestId('images-view').waitFor();
    // The project before had a finished import; this one has no jobs, and the status bar says so at once.
    expect(await page.getByTestId('job-finished').count()).toBe(0);
    const notice = page.getByTestId('notice-info').filter({ hasText: 'Bundle opened with' });
    await notice.waitFor();
    expect(await notice.locator('strong').textContent()).toBe('Bundle opened with 3 warnings');
    const detail = await notice.locator('.notice-detail').textContent();
    expect(detail).toMatch(/1 job\(s\) in the bundle were dropped/);
    expect(detail).toMatch(/1 image path\(s\) pointed outside the bundle \(e\.g\. \/etc\/hostname\)/);
    expect(detail).toMatch(/1 image file\(s\) are not beside the project/);
    await page.screenshot({ path: join(studio.dataDir, 'bundle-warnings.png') });
  });
});
