/**
 * The `pixelwise` command line, for scripting and batch work. Results go to stdout (JSON where structured),
 * progress and errors to stderr; the exit code is 0 on success, 1 on failure, 2 on bad usage.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { dispatch } from '../../core/api/contract';
import { type AugmentEdit, augmentEdits } from '../../core/augment/edits';
import type { JobRecord } from '../../core/api/records';
import type { SearchResult } from '../../core/api/search-contract';
import type { ImportResult } from '../jobs/import-job';
import { gpuReport } from '../gpu/report';
import type { ModelRegistry } from '../models';
import { catalogue } from '../models/catalogue';
import { defaultDataDir } from '../paths';
import { createApiImplementation } from '../services/api';
import { toApiError } from '../services/errors';
import { Studio } from '../services/studio';
import { teamCommand, teamCommands, TeamUsageError, teamUsage } from '../team/cli';

const usage = `Usage:
  pixelwise import <project-file> <files or folders...>   add images (creates the project if missing)
  pixelwise import <project-file> --format <coco|voc|yolo|labelme> <dataset path>
                                                          add a dataset's images and annotations, all or nothing
  pixelwise export <project-file> --format <coco|voc|yolo|labelme|bundle> --out <folder or .zip>
                   [--polygons] [--embeddings]            write the project as a dataset (or a bundle zip)
  pixelwise embed <project-file> [--model <id>]           compute missing embeddings (progress on stderr)
  pixelwise info <project-file>                           project summary as JSON
  pixelwise segment <project-file> --stdin                JSON lines in: {"image", "clicks": [[x, y, 1|0]], "box"?}
                                                          JSON lines out: {"rle", "score", "ms"} or {"error"}
  pixelwise search <project-file> --image <id> --mask <rle.json> [--accept <ids>] [--reject <ids>] [--top 50] [--model <id>]
  pixelwise search <project-file> --class <name> [--accept <ids>] [--reject <ids>] [--top 50] [--model <id>]
                                                          similar objects across the project (or more of a class,
                                                          learned from its annotations), JSON out; --accept and
                                                          --reject judge hits on those image ids (1,2,3) as the
                                                          studio's accept/reject do, and re-rank
  pixelwise discover <project-file> [--images 1,2,3] [--top 5] [--model <id>]
                                                          most frequent objects across images, JSON out
  pixelwise augment <project-file> --images <ids> --variants N [--edit jitter|swap|interpolate] [--strength s]
                   [--seed n]                             synthetic variants of annotated images, JSON out
  pixelwise models                                        list embedding models as JSON
  pixelwise models add <url|folder|model.json> [--replace]
                                                          download or copy a model, verify it, install it
  pixelwise models remove <id>                            remove a model added by the user
  pixelwise models use <project-file> <id> [--remove-old]
                                                          re-embed the project with a model, then switch to it
  pixelwise models catalogue                              exportable backbones: commands, licence, costs (JSON)
  pixelwise gpu                                           execution provider in use and why CUDA is not, JSON out
${teamUsage}
Options: --data-dir <dir> (default ~/.pixelwise)`;

class UsageError extends Error {}

function printProgress(job: JobRecord): void {
  const eta = job.etaSeconds === null ? '' : `, ${job.etaSeconds}s left`;
  process.stderr.write(`\r${job.kind}: ${job.done}/${job.total}${job.failed ? ` (${job.failed} failed)` : ''}${eta}   `);
}

async function runJob(studio: Studio, job: JobRecord): Promise<JobRecord> {
  studio.runner.onChange = printProgress;
  studio.runner.kick();
  await studio.runner.idle();
  process.stderr.write('\n');
  const finished = studio.runner.list(false).find((j) => j.id === job.id)!;
  if (finished.status === 'failed') throw new Error(`${job.kind} failed: ${finished.error}`);
  return finished;
}

async function segmentStream(studio: Studio): Promise<void> {
  const api = createApiImplementation(studio, null);
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let reply: unknown;
    try {
      reply = await dispatch(api, 'segment', 'clicks', JSON.parse(line));
    } catch (error) {
      reply = { error: error instanceof SyntaxError ? `invalid JSON: ${error.message}` : toApiError(error).message };
    }
    process.stdout.write(`${JSON.stringify(reply)}\n`);
  }
}

export async function run(argv: string[]): Promise<void> {
  if (teamCommands.includes(argv[0])) return teamCommand(argv);
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string' }, stdin: { type: 'boolean' }, 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      image: { type: 'string' }, mask: { type: 'string' }, top: { type: 'string' }, images: { type: 'string' },
      class: { type: 'string' }, accept: { type: 'string' }, reject: { type: 'string' },
      format: { type: 'string' }, out: { type: 'string' }, polygons: { type: 'boolean' }, embeddings: { type: 'boolean' },
      replace: { type: 'boolean' }, 'remove-old': { type: 'boolean' }, variants: { type: 'string' }, edit: { type: 'string' },
      strength: { type: 'string' }, seed: { type: 'string' },
    },
  });
  const [command, projectFile, ...rest] = positionals;
  if (values.help || !command) return void console.log(usage);
  const studio = new Studio({ dataDir: values['data-dir'] ?? defaultDataDir(), mode: 'cli' });
  try {
    if (command === 'gpu') return void console.log(JSON.stringify(await gpuReport(studio), null, 2));
    if (command === 'models' && projectFile === 'use') return await useModelCommand(studio, rest, values['remove-old'] ?? false);
    if (command === 'models' && projectFile === 'catalogue' && !rest.length) return void console.log(JSON.stringify(catalogue, null, 2));
    if (command === 'models') return await modelsCommand(studio.registry, projectFile, rest, values.replace ?? false);
    if (!projectFile) throw new UsageError(`${command} needs a project file`);
    if (command === 'import' && values.format) {
      if (rest.length !== 1) throw new UsageError('a dataset import takes one dataset path');
      await studio.openProject(projectFile, !existsSync(projectFile));
      const api = createApiImplementation(studio, null);
      const job = await runJob(studio, (await dispatch(api, 'datasets', 'import', { format: values.format, path: rest[0] })) as JobRecord);
      console.log(JSON.stringify(job.result, null, 2));
    } else if (command === 'export') {
      if (!values.format || !values.out) throw new UsageError('export needs --format and --out');
      await studio.openProject(projectFile, false);
      const api = createApiImplementation(studio, null);
      const job = await runJob(studio, (await dispatch(api, 'datasets', 'export', {
        format: values.format, target: values.out, segmentation: values.polygons ? 'polygon' : undefined, embeddings: values.embeddings,
      })) as JobRecord);
      console.log(JSON.stringify(job.result, null, 2));
    } else if (command === 'import') {
      if (!rest.length) throw new UsageError('import needs files or folders');
      await studio.openProject(projectFile, !existsSync(projectFile));
      const job = await runJob(studio, studio.runner.enqueue('import', { paths: rest }, 0));
      const failed = studio.project.images.list({ status: 'failed', offset: 0, limit: 1000 }).items;
      for (const image of failed) process.stderr.write(`failed: ${image.path}: ${image.error}\n`);
      const { added, skipped, alreadyInProject, sameContent } = job.result as ImportResult;
      if (skipped) process.stderr.write(`skipped: ${alreadyInProject} already in the project, ${sameContent} with the same content as another file\n`);
      console.log(JSON.stringify({ imported: added, skipped, alreadyInProject, sameContent, failed: job.failed, project: studio.project.info() }, null, 2));
    } else if (command === 'embed') {
      await studio.openProject(projectFile, false);
      const job = await runJob(studio, studio.enqueueEmbed(null, values.model));
      const runtime = studio.worker.runtime;
      console.log(JSON.stringify({ embedded: job.done, failed: job.failed, provider: runtime.provider, model: values.model ?? studio.modelId() }, null, 2));
      if (job.failed) process.exitCode = 1;
    } else if (command === 'info') {
      await studio.openProject(projectFile, false);
      const info = studio.project.info();
      const models = Object.fromEntries(studio.registry.list().map((m) => [m.id, studio.project.embeddings.stats(m.id)]));
      console.log(JSON.stringify({ ...info, embeddings: models, jobs: studio.runner.list(false).slice(0, 5) }, null, 2));
    } else if (command === 'segment') {
      if (!values.stdin) throw new UsageError('segment reads requests from standard input: pass --stdin');
      await studio.openProject(projectFile, false);
      await segmentStream(studio);
    } else if (command === 'search') {
      if (!values.class && (!values.image || !values.mask)) throw new UsageError('search needs --image <id> and --mask <rle.json>, or --class <name>');
      if (values.class && (values.image || values.mask)) throw new UsageError('search takes either --class or --image with --mask, not both');
      const limit = count('--top', values.top ?? '50');
      const accepted = idList('--accept', values.accept), rejected = idList('--reject', values.reject);
      const both = accepted.filter((id) => rejected.includes(id));
      if (both.length) throw new UsageError(`image ${both.join(', ')} is both accepted and rejected`);
      const example = values.image && values.mask ? { imageId: count('--image', values.image), rle: await readJson('--mask', values.mask) } : null;
      await studio.openProject(projectFile, false);
      const api = createApiImplementation(studio, null);
      let classId: number | undefined;
      if (values.class) {
        const found = studio.project.classes.findByName(values.class);
        if (!found) throw new Error(`no class named "${values.class}" in this project (classes: ${studio.project.classes.list().map((c) => c.name).join(', ') || 'none'})`);
        classId = found.id;
      }
      let result = (await dispatch(api, 'search', 'query', { examples: example ? [example] : undefined, classId, limit, modelId: values.model })) as SearchResult;
      // The studio's accept / reject buttons: one feedback call, which re-ranks.
      if (accepted.length || rejected.length) result = (await dispatch(api, 'search', 'feedback', { sessionId: result.sessionId, accepted, rejected, limit })) as SearchResult;
      console.log(JSON.stringify(result, null, 2));
    } else if (command === 'discover') {
      await studio.openProject(projectFile, false);
      const imageIds = values.images ? values.images.split(',').map(Number) : studio.project.images.ids().filter((id) => studio.project.images.get(id)?.hash);
      const api = createApiImplementation(studio, null);
      const result = await dispatch(api, 'discovery', 'run', { imageIds, top: count('--top', values.top ?? '5'), modelId: values.model });
      console.log(JSON.stringify(result, null, 2));
    } else if (command === 'augment') {
      if (!values.images) throw new UsageError('augment needs --images <ids>, e.g. --images 1,2,3');
      const imageIds = values.images.split(',').map((text) => count('--images', text.trim()));
      const strength = values.strength === undefined ? undefined : Number(values.strength);
      if (strength !== undefined && !(strength >= 0 && strength <= 2)) throw new UsageError(`--strength takes a number from 0 to 2, not "${values.strength}"`);
      if (values.edit !== undefined && !augmentEdits.includes(values.edit as AugmentEdit)) {
        throw new UsageError(`--edit takes ${augmentEdits.join(', ')}, not "${values.edit}"`);
      }
      await studio.openProject(projectFile, false);
      const api = createApiImplementation(studio, null);
      const job = await runJob(studio, (await dispatch(api, 'augment', 'start', {
        imageIds, variants: count('--variants', values.variants ?? '3'), edit: values.edit, strength,
        seed: values.seed === undefined ? undefined : count('--seed', values.seed),
      })) as JobRecord);
      console.log(JSON.stringify({ job: job.id, status: job.status, ...(job.result as object) }, null, 2));
      if (job.failed) process.exitCode = 1;
    } else {
      throw new UsageError(`unknown command "${command}"`);
    }
  } finally {
    await studio.close();
  }
}

/**
 * `pixelwise models use <project> <id> [--remove-old]`: the switch job (resumes one left by an interrupted run),
 * then the project's models as JSON; --remove-old deletes the maps of the model it worked with before.
 */
async function useModelCommand(studio: Studio, args: string[], removeOld: boolean): Promise<void> {
  if (args.length !== 2) throw new UsageError('usage: pixelwise models use <project-file> <id> [--remove-old]');
  const [projectFile, modelId] = args;
  await studio.openProject(projectFile, false);
  const before = studio.modelId();
  await studio.runner.idle();
  const job = await runJob(studio, studio.useModel(modelId));
  if (job.status !== 'done') throw new Error(`the switch to ${modelId} was ${job.status}`);
  const removed = removeOld && before !== modelId ? studio.removeEmbeddings(before) : 0;
  console.log(JSON.stringify({ ...studio.modelState(), previousModelId: before, embedded: job.done, failed: job.failed, removedEmbeddings: removed }, null, 2));
}

/** `pixelwise models [add <source> | remove <id>]`: the list, an install or a removal, as JSON on stdout. */
async function modelsCommand(registry: ModelRegistry, action: string | undefined, args: string[], replace: boolean): Promise<void> {
  const record = (id: string) => {
    const { dir: _dir, ...model } = registry.list().find((m) => m.id === id)!;
    return model;
  };
  if (action === undefined) return void console.log(JSON.stringify(registry.list().map((m) => record(m.id)), null, 2));
  if (args.length !== 1 || (action !== 'add' && action !== 'remove')) throw new UsageError('usage: pixelwise models [add <url|folder|model.json> | remove <id>]');
  if (action === 'remove') {
    await registry.remove(args[0]);
    return void console.log(JSON.stringify({ removed: args[0] }, null, 2));
  }
  const controller = new AbortController();
  const cancel = () => controller.abort();
  process.once('SIGINT', cancel); // stop cleanly so the bytes so far stay on disk for the next add to resume
  let shown = 0;
  const verb = /^https?:\/\//i.test(args[0]) ? 'download' : 'copy';
  try {
    const result = await registry.add(args[0], {
      replace,
      signal: controller.signal,
      onProgress: ({ done, total, etaSeconds }) => {
        if (Date.now() - shown < 200 && done !== total) return;
        shown = Date.now();
        const of = total === null ? '' : ` of ${size(total)} (${Math.floor((100 * done) / total)}%)`;
        process.stderr.write(`\r${verb}: ${size(done)}${of}${etaSeconds === null ? '' : `, ${etaSeconds}s left`}   `);
      },
    });
    process.stderr.write('\n');
    console.log(JSON.stringify({ ...record(result.id), bytes: result.bytes }, null, 2));
  } catch (error) {
    if (shown) process.stderr.write('\n');
    throw error;
  } finally {
    process.removeListener('SIGINT', cancel);
  }
}

function size(bytes: number): string {
  return bytes < 1e6 ? `${Math.round(bytes / 1e3)} kB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

/** A positive whole number given as option `name`; bad usage otherwise. */
function count(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`${name} takes a positive whole number, not "${text}"`);
  return value;
}

/** Image ids given as "1,2,3" (none when the option is absent). */
function idList(name: string, text: string | undefined): number[] {
  if (text === undefined) return [];
  return text.split(',').filter((part) => part.trim() !== '').map((part) => count(name, part.trim()));
}

/** The JSON in file `path` given as option `name`; bad usage, naming the file, when it is missing or not JSON. */
async function readJson(name: string, path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`${name} ${path}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  });
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(`${name} ${path}: not JSON (${(error as Error).message})`);
  }
}

/** Entry point of the `pixelwise` binary. */
export function main(): void {
  run(process.argv.slice(2)).catch((error) => {
    if (error instanceof UsageError || error instanceof TeamUsageError) {
      console.error(`${error.message}\n\n${usage}`);
      process.exit(2);
    }
    console.error(`pixelwise: ${toApiError(error).message}`);
    process.exit(1);
  });
}

if (typeof require !== 'undefined' && require.main === module) main();
