/**
 * What the team end-to-end tests share: a throwaway PostgreSQL cluster, a real `pixelwise serve` with an admin,
 * the accounts and images a test asks for (embedded by a real worker process when `embed`), and the studio in web
 * mode in Debian's Chromium; and opening a team project through the dialog by keyboard.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { tempDir, writeImages } from '../fixtures';
import { freePort, type PgCluster, startPgCluster } from '../pg-cluster';
import { type CliProcess, signIn, spawnCli, teamCall, waitForOutput } from '../team-cli';
import { type Studio, startStudio } from './harness';

export interface TeamWorld {
  cluster: PgCluster;
  server: CliProcess;
  origin: string;
  /** The admin's session token, for checking the server's side (not through the studio). */
  admin: string;
  studio: Studio;
  page: Page;
  imageIds: number[];
  stop(): Promise<void>;
}

export interface TeamWorldOptions {
  adminPassword: string;
  /** [name, role, password] of each account to create. */
  users: Array<[string, string, string]>;
  images: number;
  /** Queue the images for embedding and run a worker until they are done (click-to-mask needs their maps). */
  embed: boolean;
}

export async function startTeamWorld(options: TeamWorldOptions): Promise<TeamWorld> {
  const cluster = await startPgCluster();
  let server: CliProcess | undefined;
  let studio: Studio | undefined;
  const stop = async () => {
    await studio?.close();
    server?.process.kill('SIGTERM');
    await server?.exited;
    await cluster.stop();
  };
  try {
    const database = await cluster.createDatabase('team');
    const dir = tempDir();
    writeFileSync(join(dir, 'admin-password'), `${options.adminPassword}\n`, { mode: 0o600 });
    const port = await freePort();
    server = spawnCli(['serve', '--database', database, '--port', String(port), '--admin-password-file', join(dir, 'admin-password')]);
    await waitForOutput(server, /Pixelwise team server: http/);
    const origin = `http://127.0.0.1:${port}`;
    const admin = await signIn(origin, 'admin', options.adminPassword);
    for (const [name, role, password] of options.users) {
      const created = await teamCall(origin, admin, 'users.create', { name, role, password });
      if (!created.ok) throw new Error(created.error?.message);
    }
    const imageIds: number[] = [];
    for (const file of await writeImages(join(dir, 'images'), options.images)) {
      const uploaded = await teamCall(origin, admin, 'images.upload', { path: `shelf/${file.split('/').pop()}`, data: readFileSync(file).toString('base64') });
      if (!uploaded.ok) throw new Error(uploaded.error?.message);
      imageIds.push(uploaded.result.id as number);
    }
    if (options.embed) {
      await teamCall(origin, admin, 'embeddings.start', {});
      const worker = spawnCli(['worker', '--database', database, '--exit-when-idle']);
      if ((await worker.exited) !== 0) throw new Error(`worker failed: ${worker.stderr()}`);
    }
    studio = await startStudio();
    return { cluster, server, origin, admin, studio, page: studio.page, imageIds, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Opens the team project from the Projects view by keyboard alone (Alt+T, the three fields, Enter). */
export async function openTeamByKeyboard(page: Page, origin: string, user: string, password: string): Promise<void> {
  await page.getByTestId('projects-view').waitFor();
  await page.keyboard.press('Alt+t');
  await page.getByTestId('team-dialog').waitFor();
  await page.keyboard.type(origin);
  await page.keyboard.press('Tab');
  await page.keyboard.type(user);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
  await page.getByTestId('images-view').waitFor({ timeout: 30_000 });
}
