/**
 * An export that could not copy its images is a failure, said in words, from the job, the API and the CLI; and a
 * COCO export cut short never leaves a partial annotations.json. Real projects, real failing copies (a folder
 * where an image should be, a missing file, a file-size limit set on a child process with `ulimit -f`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatch } from '../../core/api/contract';
import { encodeRle } from '../../core/rle';
import { createApiImplementation } from '../../electron/services/api';
import { Studio } from '../../electron/services/studio';
import { addImageTo, createProject, populate, tempDir, writeImage } from './fixture';
import { randomBlobs } from './masks';

let work: ReturnType<typeof tempDir>;

beforeAll(() => {
  work = tempDir('pixelwise-export-failures-');
});

afterAll(() => work?.cleanup());

/** A populated project in its own folder, closed (for a Studio or the CLI to open). */
async function makeProject(name: string): Promise<string> {
  const project = createProject(join(work.dir, name), 'p.pixelwise');
  await populate(project, join(work.dir, name, 'images'));
  const path = project.path;
  project.close();
  return path;
}

async function exportThroughApi(projectFile: string, input: Record<string, unknown>) {
  const studio = new Studio({ dataDir: join(work.dir, 'data'), mode: 'cli' });
  try {
    await studio.openProject(projectFile, false);
    const api = createApiImplementation(studio, null);
    const job = (await dispatch(api, 'datasets', 'export', input)) as { id: number };
    studio.runner.kick();
    await studio.runner.idle();
    return studio.runner.list(false).find((j) => j.id === job.id)!;
  } finally {
    await studio.close();
  }
}

describe('exports whose images cannot be copied fail', () => {
  it('an image that is a folder or missing fails the export before anything is written', async () => {
    const projectFile = await makeProject('gone');
    const images = join(work.dir, 'gone', 'images');
    rmSync(join(images, 'field.jpg'));
    mkdirSync(join(images, 'field.jpg'));
    const target = join(work.dir, 'gone-coco');
    const folder = await exportThroughApi(projectFile, { format: 'coco', target });
    expect(folder.status).toBe('failed');
    expect(folder.error).toBe('images/field.jpg: is a folder, not an image file; this image cannot be copied: put the files back, remove those images from the project, or export without copying images');
    expect(existsSync(target)).toBe(false);

    rmSync(join(images, 'tall.png'));
    const yolo = await exportThroughApi(projectFile, { format: 'yolo', target: join(work.dir, 'gone-yolo') });
    expect(yolo.error).toMatch(/^images\/field\.jpg: is a folder, not an image file; 2 of the 3 images cannot be copied/);
    const voc = await exportThroughApi(projectFile, { format: 'voc', target: join(work.dir, 'gone-voc'), imageIds: [3] });
    expect(voc.error).toMatch(/^images\/tall\.png: the file is missing; this image cannot be copied/);

    // Without the images, the labels alone are a complete export.
    const labelsOnly = await exportThroughApi(projectFile, { format: 'coco', target: join(work.dir, 'gone-labels'), copyImages: false });
    expect(labelsOnly.status).toBe('done');
  });

  it('a copy that fails half-way through fails the export, naming the file and the cause', async () => {
    const projectFile = await makeProject('blocked');
    const target = join(work.dir, 'blocked-coco');
    mkdirSync(join(target, 'images', 'field.jpg'), { recursive: true }); // a folder in the way of one copy
    const job = await exportThroughApi(projectFile, { format: 'coco', target, overwrite: true });
    expect(job.status).toBe('failed');
    expect(job.error).toMatch(/blocked-coco\/images\/field\.jpg: could not copy the image from .*images\/field\.jpg: a folder is in the way/);
    expect(existsSync(join(target, 'annotations.json'))).toBe(false);
  });

  it('the CLI exits non-zero and says why', async () => {
    const projectFile = await makeProject('cli');
    rmSync(join(work.dir, 'cli', 'images', 'street.png'));
    const bin = resolve(__dirname, '..', '..', 'bin', 'pixelwise.cjs');
    const result = spawnSync(process.execPath, [bin, 'export', projectFile, '--format', 'labelme', '--out', join(work.dir, 'cli-out'), '--data-dir', join(work.dir, 'data')], {
      encoding: 'utf8', timeout: 60_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/images\/street\.png: the file is missing; this image cannot be copied/);
  });
});

describe('COCO annotations.json is written whole or not at all', () => {
  it('a write cut short by a file-size limit leaves no partial annotations.json', async () => {
    // 200 classes with long names: an annotations.json of about 200 KB, over the child's 64 KiB file-size limit.
    const project = createProject(join(work.dir, 'big'), 'p.pixelwise');
    const image = join(work.dir, 'big', 'one.png');
    await writeImage(image, 60, 40, 7);
    const imageId = await addImageTo(project)(image);
    project.transaction(() => {
      for (let i = 0; i < 200; i++) project.classes.create(`class ${i} ${'with a long name '.repeat(60)}`);
      project.annotations.add(imageId, { classId: 1, rle: encodeRle(randomBlobs(60, 40, 1)) });
    });
    project.close();
    const target = join(work.dir, 'big-coco');
    mkdirSync(target);
    writeFileSync(join(target, 'annotations.json'), '{"images": [], "annotations": [], "categories": []}'); // an earlier export
    const script = join(work.dir, 'export-coco.mts');
    writeFileSync(script, `
      import { Project } from ${JSON.stringify(resolve(__dirname, '../../db/project.ts'))};
      import { exportDataset } from ${JSON.stringify(resolve(__dirname, '../../electron/formats/index.ts'))};
      const project = new Project(process.argv[2], { readonly: true });
      const error = await exportDataset(project, 'coco', process.argv[3], { copyImages: false, overwrite: true }).then(() => null, (e) => e.message);
      console.log(JSON.stringify({ error }));
    `);
    // SIGXFSZ ignored, so a write past the limit fails with EFBIG (as a full disk fails with ENOSPC) instead of killing.
    const child = spawnSync('bash', ['-c', `trap '' XFSZ; ulimit -f 64; exec "${process.execPath}" --import tsx "$@"`, 'export', script, join(work.dir, 'big', 'p.pixelwise'), target], {
      encoding: 'utf8', timeout: 60_000, env: { ...process.env, TSX_DISABLE_CACHE: '1' },
    });
    expect(child.status, child.stderr).toBe(0);
    const { error } = JSON.parse(child.stdout.trim().split('\n').pop()!);
    expect(error).toMatch(/the file is larger than this system allows/);
    // The earlier export's file is untouched, and no temporary file is left beside it.
    expect(readFileSync(join(target, 'annotations.json'), 'utf8')).toBe('{"images": [], "annotations": [], "categories": []}');
    expect(readdirSync(target)).toEqual(['annotations.json']);
  });
});
