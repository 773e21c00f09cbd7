/**
 * Image import from folders as labelers make them: symlinked files and folders (a link loop too), duplicates, and
 * a file whose name is not valid UTF-8. What was skipped, and why, is in the job's result and the CLI's output.
 * Real files, a real Studio with its job runner, the built CLI.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatch } from '../../core/api/contract';
import { createApiImplementation } from '../../electron/services/api';
import { Studio } from '../../electron/services/studio';
import { tempDir, writeImages } from '../fixtures';

let dir: string;
let originals: string[];

beforeAll(async () => {
  dir = tempDir('pixelwise-import-files-');
  originals = await writeImages(join(dir, 'originals'), 3, 64, 48);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function importInto(project: string, paths: string[]) {
  const studio = new Studio({ dataDir: join(dir, 'data'), mode: 'cli' });
  try {
    await studio.openProject(project, !existsSync(project));
    const api = createApiImplementation(studio, null);
    const job = (await dispatch(api, 'images', 'import', { paths })) as { id: number };
    studio.runner.kick();
    await studio.runner.idle();
    const finished = studio.runner.list(false).find((j) => j.id === job.id)!;
    return { job: finished, images: studio.project.images.list({ offset: 0, limit: 100 }).items };
  } finally {
    await studio.close();
  }
}

describe('image import from folders', () => {
  it('follows symlinks to files and folders, reading a folder reached twice (a loop) once', async () => {
    const links = join(dir, 'links');
    mkdirSync(join(links, 'nested'), { recursive: true });
    originals.forEach((file, i) => symlinkSync(file, join(links, `link-${i}${file.slice(-4)}`)));
    symlinkSync(join(dir, 'originals'), join(links, 'nested', 'folder-link'));
    symlinkSync(links, join(links, 'nested', 'loop')); // links/nested/loop -> links
    symlinkSync(join(dir, 'gone.jpg'), join(links, 'dangling.jpg'));
    const { job, images } = await importInto(join(dir, 'links.pixelwise'), [links]);
    expect(job.status).toBe('done');
    // 3 links imported; the linked originals folder holds the same 3 contents again; the dangling link failed.
    expect(job.result).toEqual({ added: 3, skipped: 3, alreadyInProject: 0, sameContent: 3 });
    expect(job.failed).toBe(1);
    expect(images.filter((image) => image.hash).map((image) => image.path).sort()).toEqual(['links/link-0.jpg', 'links/link-1.png', 'links/link-2.jpg']);
    expect(images.find((image) => !image.hash)).toMatchObject({ path: 'links/dangling.jpg', error: 'the symbolic link points to a file that does not exist' });
  });

  it('says how many files were already in the project and how many repeated another file', async () => {
    const project = join(dir, 'dupes.pixelwise');
    await importInto(project, [originals[0]]);
    const copy = join(dir, 'copy-of-0.jpg');
    writeFileSync(copy, readFileSync(originals[0]));
    const { job } = await importInto(project, [originals[0], originals[1], copy]);
    expect(job.result).toEqual({ added: 1, skipped: 2, alreadyInProject: 1, sameContent: 1 });
  });

  it('names a file whose name is not valid UTF-8 instead of calling it missing', async () => {
    const folder = join(dir, 'odd-names');
    mkdirSync(folder);
    const odd = Buffer.concat([Buffer.from(`${folder}/name-`), Buffer.from([0xff, 0xfe]), Buffer.from('.jpg')]);
    writeFileSync(odd, readFileSync(originals[0]));
    const { job, images } = await importInto(join(dir, 'odd.pixelwise'), [folder]);
    expect(job.failed).toBe(1);
    expect(images).toHaveLength(1);
    expect(images[0].error).toBe('the name "name-\\xff\\xfe.jpg" is not valid UTF-8, which Pixelwise cannot keep; rename it to import the file');
  });

  it('the CLI prints what it skipped and why', () => {
    const bin = resolve(__dirname, '..', '..', 'bin', 'pixelwise.cjs');
    const project = join(dir, 'cli.pixelwise');
    const run = () => spawnSync(process.execPath, [bin, 'import', project, join(dir, 'originals'), '--data-dir', join(dir, 'data')], { encoding: 'utf8', timeout: 60_000 });
    expect(run().status).toBe(0);
    const again = run();
    expect(again.status).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ imported: 0, skipped: 3, alreadyInProject: 3, sameContent: 0 });
    expect(again.stderr).toMatch(/skipped: 3 already in the project, 0 with the same content as another file/);
  });
});
