/**
 * One contract for the Store interface (db/store.ts), run against both implementations: a real SQLite project
 * file and a real PostgreSQL cluster (tests/pg-cluster.ts). Then what only the server database has: a newer schema,
 * bad addresses, and a connection dropped in the middle of a save.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEmbedding } from '../core/embedding';
import { encodeRle } from '../core/rle';
import { applicationId } from '../db/connection';
import { migrations } from '../db/migrations';
import { connectDatabase } from '../db/pg/connect';
import { pgMigrations, pgSchemaVersion } from '../db/pg/schema';
import { PgStore } from '../db/pg/store';
import { SqliteStore } from '../db/sqlite-store';
import { LeaseHeldError, type NewTeamImage, StaleVersionError, type Store } from '../db/store';
import { readManifest } from '../electron/embedding/embedder';
import { readImageFile } from '../electron/jobs/import-job';
import { builtinModelsDir } from '../electron/paths';
import { tempDir, writeImages } from './fixtures';
import { freePort, type PgCluster, startPgCluster } from './pg-cluster';

let cluster: PgCluster;
let images: NewTeamImage[];
let databases = 0;

beforeAll(async () => {
  cluster = await startPgCluster();
  const files = await writeImages(join(tempDir(), 'images'), 3, 64, 48);
  images = await Promise.all(files.map(async (file, index) => ({
    ...(await readImageFile(file)), path: `uploads/scene-${index}.${file.endsWith('png') ? 'png' : 'jpg'}`, bytes: readFileSync(file),
  })));
});

afterAll(async () => {
  await cluster?.stop();
});

const implementations: Array<[string, () => Promise<Store>]> = [
  ['sqlite', async () => new SqliteStore(join(tempDir(), 'team.pixelwise'), { create: true })],
  ['postgres', async () => PgStore.open(await cluster.createDatabase(`store_${++databases}`))],
];

/** A mask covering the image's top-left w x h pixels. */
function mask(width: number, height: number, w = 8, h = 8) {
  const pixels = new Uint8Array(width * height);
  for (let y = 0; y < h; y++) pixels.fill(1, y * width, y * width + w);
  return encodeRle({ width, height, data: pixels });
}

const embedding = (): StoredEmbedding => ({ width: 4, height: 3, dim: 2, imageWidth: 64, imageHeight: 48, dtype: 'int8', scale: 1 / 127, bytes: new Uint8Array(24).fill(7) });

describe.each(implementations)('Store contract: %s', (_name, open) => {
  let store: Store;
  let ids: number[];
  let admin: number, ann: number, bob: number;

  beforeAll(async () => {
    store = await open();
    ids = [];
    for (const image of images) ids.push(await store.images.add(image));
    admin = (await store.users.create('Admin', 'admin', 'hash-a')).id;
    ann = (await store.users.create('ann', 'labeler', 'hash-b')).id;
    bob = (await store.users.create('bob', 'labeler', 'hash-c')).id;
  });

  afterAll(async () => {
    await store?.close();
  });

  it('images: the same content is one image; bytes, thumbnail, list with search and status', async () => {
    expect(await store.images.add({ ...images[0], path: 'elsewhere/copy.jpg' })).toBe(ids[0]);
    const first = await store.images.get(ids[0]);
    expect(first).toMatchObject({ id: ids[0], path: images[0].path, width: 64, height: 48, hash: images[0].hash, status: 'new', annotationCount: 0 });
    expect(Buffer.from((await store.images.bytes(ids[1]))!).equals(Buffer.from(images[1].bytes))).toBe(true);
    expect((await store.images.thumbnail(ids[2]))!.length).toBeGreaterThan(100);
    expect(await store.images.get(99_999)).toBeUndefined();
    expect(await store.images.findByHashes([images[1].hash, 'f'.repeat(64)])).toEqual({ [images[1].hash]: ids[1] });
    const page = await store.images.list({ offset: 1, limit: 1 });
    expect([page.total, page.items.map((i) => i.id)]).toEqual([3, [ids[1]]]);
    expect((await store.images.list({ search: 'SCENE-2', offset: 0, limit: 10 })).items.map((i) => i.id)).toEqual([ids[2]]);
    await store.images.setReviewed(ids[2], true);
    expect((await store.images.list({ status: 'reviewed', offset: 0, limit: 10 })).items.map((i) => i.id)).toEqual([ids[2]]);
    expect(await store.images.neighbors(ids[1])).toEqual({ previous: ids[0], next: ids[2] });
    expect(await store.images.neighbors(ids[0], 'reviewed')).toEqual({ previous: null, next: ids[2] });
    expect(await store.images.counts()).toEqual({ byStatus: { new: 2, embedded: 0, annotated: 0, reviewed: 1, failed: 0 }, annotations: 0 });
    await store.images.setReviewed(ids[2], false);
  });

  it('classes: create, rename, clash refused, remove', async () => {
    const cat = await store.classes.create('cat');
    expect(cat.color).toMatch(/^#[0-9a-f]{6}$/);
    await expect(store.classes.create('CAT')).rejects.toMatchObject({ code: 'invalid-class', message: 'a class named "CAT" already exists' });
    expect(await store.classes.update(cat.id, { name: 'kitten', color: '#112233' })).toEqual({ id: cat.id, name: 'kitten', color: '#112233' });
    await store.classes.remove(cat.id);
    await expect(store.classes.remove(cat.id)).rejects.toMatchObject({ code: 'invalid-class' });
    expect(await store.classes.list()).toEqual([]);
  });

  it('annotations: each save bumps the version; a stale save is a conflict returning the stored version; a retried save is not', async () => {
    const dog = await store.classes.create('dog');
    const image = ids[0];
    expect(await store.annotations.get(image)).toEqual({ imageId: image, version: 0, annotations: [] });
    const first = await store.annotations.save({ imageId: image, baseVersion: 0, userId: ann, saveId: 'ann-1', annotations: [{ classId: dog.id, rle: mask(64, 48) }] });
    expect(first.version).toBe(1);
    expect(first.annotations).toHaveLength(1);
    expect(first.annotations[0]).toMatchObject({ classId: dog.id, bbox: [0, 0, 8, 8], area: 64 });

    // Bob saved from version 0 too: refused, told the current version and objects; nothing of his is written.
    const stale = await store.annotations.save({ imageId: image, baseVersion: 0, userId: bob, saveId: 'bob-1', annotations: [] }).catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(StaleVersionError);
    expect((stale as StaleVersionError).code).toBe('conflict');
    expect((stale as StaleVersionError).current).toEqual(first);
    expect((await store.annotations.get(image)).annotations).toHaveLength(1);

    // Ann's first save retried (its answer was lost): the stored result, not a conflict with itself.
    expect(await store.annotations.save({ imageId: image, baseVersion: 0, userId: ann, saveId: 'ann-1', annotations: [{ classId: dog.id, rle: mask(64, 48) }] }))
      .toEqual(first);

    const kept = first.annotations[0].id;
    const second = await store.annotations.save({ imageId: image, baseVersion: 1, userId: bob, annotations: [
      { id: kept, classId: null, rle: mask(64, 48, 4, 4) }, { classId: dog.id, rle: mask(64, 48, 64, 48) }] });
    expect(second.version).toBe(2);
    expect(second.annotations.map((a) => [a.id === kept, a.area])).toEqual([[true, 16], [false, 64 * 48]]);
    expect(await store.annotations.history(image)).toEqual([
      { version: 1, userId: ann, saveId: 'ann-1', count: 1 }, { version: 2, userId: bob, saveId: null, count: 2 }]);
    expect((await store.images.get(image))!).toMatchObject({ status: 'annotated', annotationCount: 2 });
    expect((await store.activity.list(image)).map((a) => [a.action, a.userName, a.detail])).toEqual([
      ['save', 'ann', { version: 1, objects: 1 }], ['save', 'bob', { version: 2, objects: 2 }]]);
  });

  it('annotations: bad masks, unknown classes and images are refused in words, nothing written', async () => {
    const image = ids[1];
    await expect(store.annotations.save({ imageId: image, baseVersion: 0, userId: ann, annotations: [{ classId: null, rle: mask(10, 10) }] }))
      .rejects.toMatchObject({ code: 'invalid-annotation', message: `mask is 10x10 but image ${image} is 64x48` });
    await expect(store.annotations.save({ imageId: image, baseVersion: 0, userId: ann, annotations: [{ classId: 9999, rle: mask(64, 48) }] }))
      .rejects.toMatchObject({ code: 'class-missing' });
    await expect(store.annotations.save({ imageId: 99_999, baseVersion: 0, userId: ann, annotations: [] })).rejects.toMatchObject({ code: 'not-found' });
    expect(await store.annotations.get(image)).toEqual({ imageId: image, version: 0, annotations: [] });
  });

  it('annotations: of 8 concurrent saves from one version exactly one is accepted', async () => {
    const image = ids[2];
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) =>
      store.annotations.save({ imageId: image, baseVersion: 0, userId: ann, saveId: `race-${i}`, annotations: [{ classId: null, rle: mask(64, 48, i + 1, 1) }] })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected' && r.reason instanceof StaleVersionError)).toHaveLength(7);
    expect((await store.annotations.history(image)).map((h) => h.version)).toEqual([1]);
  });

  it('leases: another labeler sees who holds the image; an expired lease can be taken', async () => {
    const lease = await store.leases.claim(ids[1], ann, 0.5);
    expect(lease).toMatchObject({ imageId: ids[1], userId: ann, userName: 'ann' });
    const held = await store.leases.claim(ids[1], bob, 60).catch((e: unknown) => e);
    expect(held).toBeInstanceOf(LeaseHeldError);
    expect((held as LeaseHeldError).message).toContain('is being labeled by ann until');
    expect((await store.leases.claim(ids[1], ann, 0.5)).userId).toBe(ann); // renewal
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(await store.leases.get(ids[1])).toBeUndefined();
    expect((await store.leases.claim(ids[1], bob, 60)).userName).toBe('bob');
    await store.leases.release(ids[1], ann); // not ann's any more: no effect
    expect((await store.leases.get(ids[1]))!.userName).toBe('bob');
    await store.leases.release(ids[1], bob);
    expect(await store.leases.get(ids[1])).toBeUndefined();
    expect((await store.activity.list(ids[1])).filter((a) => a.action === 'claim').map((a) => a.userName)).toEqual(['ann', 'bob']);
  });

  it('users and sessions: names are unique regardless of case; expired and removed sessions find no one', async () => {
    await expect(store.users.create('ANN', 'reviewer', 'x')).rejects.toMatchObject({ code: 'exists' });
    expect(await store.users.find('ADMIN')).toEqual({ id: admin, name: 'Admin', role: 'admin', disabled: false, passwordHash: 'hash-a' });
    await store.sessions.create(ann, 'live', new Date(Date.now() + 60_000));
    await store.sessions.create(bob, 'old', new Date(Date.now() - 1000));
    expect(await store.sessions.user('live')).toEqual({ id: ann, name: 'ann', role: 'labeler' });
    expect(await store.sessions.user('old')).toBeUndefined();
    await store.sessions.remove('live');
    expect(await store.sessions.user('live')).toBeUndefined();
    expect((await store.users.list()).map((u) => u.role)).toEqual(['admin', 'labeler', 'labeler']);
  });

  it('embed tasks: each claimed once; a taken-over task cannot be completed by its old worker', async () => {
    const manifest = await readManifest(join(builtinModelsDir(), 'pixelwise-colorpos'));
    await store.embeddings.registerModel(manifest);
    expect(await store.tasks.enqueueEmbed(manifest.id, null)).toBe(3);
    expect(await store.tasks.enqueueEmbed(manifest.id, null)).toBe(0);
    const first = (await store.tasks.claim('w1', 0.3))!;
    const second = (await store.tasks.claim('w2', 60))!;
    expect(first.imageId).not.toBe(second.imageId);
    expect(await store.tasks.complete(second, embedding())).toBe(true);
    expect(await store.tasks.complete(second, embedding())).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const third = (await store.tasks.claim('w3', 60))!;
    expect([third.id, third.attempts]).toEqual([first.id, 2]); // w1's lease ran out: its task comes back first
    expect(await store.tasks.renew(first, 60)).toBe(false);
    expect(await store.tasks.complete(first, embedding())).toBe(false);
    expect(await store.tasks.complete(third, embedding())).toBe(true);
    const last = (await store.tasks.claim('w3', 60))!;
    await store.tasks.fail(last, 'cannot decode');
    expect(await store.tasks.claim('w3', 60)).toBeNull();
    expect(await store.tasks.counts()).toEqual({ queued: 0, running: 0, done: 2, failed: 1 });
    // Asked again, the failed image is queued again; one whose workers keep dying is given up after 5 attempts.
    expect(await store.tasks.enqueueEmbed(manifest.id, null)).toBe(1);
    for (let attempt = 1; attempt <= 5; attempt++) {
      expect((await store.tasks.claim(`doomed-${attempt}`, 0.05))!.attempts).toBe(attempt);
      await new Promise((resolve) => setTimeout(resolve, 80));
    }
    expect(await store.tasks.claim('w4', 60)).toBeNull();
    expect(await store.tasks.counts()).toEqual({ queued: 0, running: 0, done: 2, failed: 1 });
    expect(await store.embeddings.count(manifest.id)).toBe(2);
    const stored = (await store.embeddings.get(third.imageId, manifest.id))!;
    expect([stored.width, stored.height, stored.dim, [...stored.bytes].slice(0, 3)]).toEqual([4, 3, 2, [7, 7, 7]]);
    // Status follows: the one image without objects is now 'embedded'; annotated ones stay 'annotated'.
    expect(second.imageId).toBe(ids[1]);
    expect((await store.images.list({ status: 'embedded', offset: 0, limit: 10 })).items.map((i) => i.id)).toEqual([ids[1]]);
    expect((await store.images.list({ status: 'annotated', offset: 0, limit: 10 })).total).toBe(2);
  });

  it('sign-in failures: kept per name, oldest first; older ones forgotten as new ones come', async () => {
    const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000);
    await store.signIns.fail('ann', at(30), at(60));
    await store.signIns.fail('ann', at(5), at(60));
    await store.signIns.fail('bob', at(4), at(60));
    await store.signIns.fail('ann', at(1), at(60));
    const recent = await store.signIns.failures('ann', at(10));
    expect(recent).toHaveLength(2);
    expect(Math.round((Date.now() - recent[0]) / 60_000)).toBe(5);
    expect(await store.signIns.failures('ann', at(60))).toHaveLength(3);
    await store.signIns.fail('bob', at(0), at(10)); // forgets ann's of 30 minutes ago
    expect(await store.signIns.failures('ann', at(60))).toHaveLength(2);
    expect(await store.signIns.failures('bob', at(60))).toHaveLength(2);
    expect(await store.signIns.failures('carol', at(60))).toEqual([]);
  });

  it('embeddings: a map computed elsewhere is stored with its regions and status, and its given-up task is done with', async () => {
    const modelId = 'pixelwise-colorpos';
    expect(await store.embeddings.stored(modelId, [...ids, 99_999])).toHaveLength(2);
    const without: number[] = [];
    for (const id of ids) if (!(await store.embeddings.get(id, modelId))) without.push(id);
    expect(without).toHaveLength(1);
    const map = { ...embedding(), bytes: Uint8Array.from({ length: 24 }, (_, i) => i * 5 - 60) };
    await store.embeddings.put(without[0], modelId, map);
    const stored = (await store.embeddings.get(without[0], modelId))!;
    expect({ ...stored, bytes: [...stored.bytes] }).toEqual({ ...map, bytes: [...map.bytes] });
    expect((await store.embeddings.stored(modelId, ids)).sort()).toEqual([...ids].sort());
    expect((await store.regions.version(modelId)).rows).toBe(3);
    expect(await store.regions.missing(modelId)).toEqual([]);
    expect(await store.tasks.counts()).toEqual({ queued: 0, running: 0, done: 3, failed: 0 });
    expect(await store.tasks.enqueueEmbed(modelId, null)).toBe(0);
    // Stored again (a repeated push): replaced, still one map and one region row.
    await store.embeddings.put(without[0], modelId, map);
    expect([await store.embeddings.count(modelId), (await store.regions.version(modelId)).rows]).toEqual([3, 3]);
    await expect(store.embeddings.put(99_999, modelId, map)).rejects.toMatchObject({ code: 'not-found' });
  });

  it('accounts: disabling ends the sessions and frees the leases (logged); a reset ends sessions; the last admin stays', async () => {
    await store.sessions.create(ann, 'ann-1', new Date(Date.now() + 60_000));
    await store.sessions.create(bob, 'bob-1', new Date(Date.now() + 60_000));
    await store.leases.claim(ids[0], ann, 60);
    await store.leases.claim(ids[2], ann, 60);
    expect(await store.users.update(ann, { disabled: true }, admin)).toEqual({
      user: { id: ann, name: 'ann', role: 'labeler', disabled: true }, endedSessions: 1, freedLeases: [ids[0], ids[2]] });
    expect([await store.sessions.user('ann-1'), await store.sessions.ended('ann-1')]).toEqual([undefined, 'disabled']);
    expect([await store.leases.get(ids[0]), await store.leases.get(ids[2])]).toEqual([undefined, undefined]);
    expect((await store.activity.list(ids[0])).at(-1)).toMatchObject({ action: 'revoke', userName: 'Admin', detail: { from: 'ann', reason: 'account disabled' } });
    expect((await store.users.list()).map((u) => [u.name, u.disabled])).toEqual([['Admin', false], ['ann', true], ['bob', false]]);
    expect((await store.users.find('ann'))!.disabled).toBe(true);
    // Enabled again: the ended session stays ended; a new one works.
    expect((await store.users.update(ann, { disabled: false }, admin)).endedSessions).toBe(0);
    expect(await store.sessions.user('ann-1')).toBeUndefined();
    await store.sessions.create(ann, 'ann-2', new Date(Date.now() + 60_000));
    expect(await store.sessions.user('ann-2')).toEqual({ id: ann, name: 'ann', role: 'labeler' });

    // A password reset ends the sessions; a role that cannot label loses its leases but keeps its sessions.
    expect(await store.users.update(bob, { passwordHash: 'hash-new' }, null)).toMatchObject({ endedSessions: 1, freedLeases: [] });
    expect([await store.sessions.ended('bob-1'), (await store.users.find('bob'))!.passwordHash]).toEqual(['password-reset', 'hash-new']);
    await store.sessions.create(bob, 'bob-2', new Date(Date.now() + 60_000));
    await store.leases.claim(ids[1], bob, 60);
    expect(await store.users.update(bob, { role: 'reviewer' }, null)).toMatchObject({ endedSessions: 0, freedLeases: [ids[1]] });
    expect(await store.sessions.user('bob-2')).toEqual({ id: bob, name: 'bob', role: 'reviewer' });
    expect((await store.activity.list(ids[1])).at(-1)).toMatchObject({ action: 'revoke', userId: null, detail: { from: 'bob', reason: 'now a reviewer' } });

    // Nobody could manage accounts without an enabled admin: refused, nothing changed.
    await expect(store.users.update(admin, { role: 'labeler' }, admin)).rejects.toMatchObject({ code: 'last-admin', message: 'Admin is the only enabled admin; make another account an admin first' });
    await expect(store.users.update(admin, { disabled: true }, null)).rejects.toMatchObject({ code: 'last-admin' });
    expect(await store.users.find('admin')).toMatchObject({ role: 'admin', disabled: false });
    await store.users.update(bob, { role: 'admin' }, admin);
    expect((await store.users.update(admin, { role: 'reviewer' }, bob)).user.role).toBe('reviewer');
    await store.users.update(admin, { role: 'admin' }, bob);
    await store.users.update(bob, { role: 'labeler' }, admin);
    await expect(store.users.update(99_999, { disabled: true }, admin)).rejects.toMatchObject({ code: 'not-found' });
  });
});

describe('SQLite store: a project file of schema 6 (before accounts could be disabled)', () => {
  it('is upgraded: its users enabled, their sessions live, sign-in failures kept', async () => {
    const file = join(tempDir(), 'old-team.pixelwise');
    const raw = new Database(file);
    raw.transaction(() => {
      for (const migration of migrations.slice(0, 6)) raw.exec(migration);
      raw.pragma(`application_id = ${applicationId}`);
      raw.pragma('user_version = 6');
      raw.prepare("INSERT INTO users (name, role, password_hash) VALUES ('root', 'admin', 'h'), ('ann', 'labeler', 'h')").run();
      raw.prepare('INSERT INTO sessions (token_hash, user_id, expires_at) VALUES (?, 2, ?)').run('ann-old', new Date(Date.now() + 3600_000).toISOString());
    })();
    raw.close();
    const store = new SqliteStore(file);
    expect(await store.users.list()).toEqual([{ id: 1, name: 'root', role: 'admin', disabled: false }, { id: 2, name: 'ann', role: 'labeler', disabled: false }]);
    expect(await store.sessions.user('ann-old')).toEqual({ id: 2, name: 'ann', role: 'labeler' });
    await store.users.update(2, { disabled: true }, 1);
    expect([await store.sessions.user('ann-old'), await store.sessions.ended('ann-old')]).toEqual([undefined, 'disabled']);
    await store.signIns.fail('ann', new Date(), new Date(0));
    expect(await store.signIns.failures('ann', new Date(0))).toHaveLength(1);
    expect(store.project.db.pragma('user_version', { simple: true })).toBe(migrations.length);
    await store.close();
  });
});

describe('PostgreSQL store: bad addresses, newer schema, dropped connection', () => {
  it('a wrong URL, nothing listening, or a missing database: one clear sentence each', async () => {
    await expect(PgStore.open('mysql://x@localhost/db')).rejects.toThrow('is not a PostgreSQL address (it should start with postgres://)');
    await expect(PgStore.open('not a url')).rejects.toThrow('is not a database address');
    const port = await freePort();
    await expect(PgStore.open(`postgres://postgres:secret@127.0.0.1:${port}/team`))
      .rejects.toThrow(`cannot reach the database server at 127.0.0.1:${port}: nothing is listening there`);
    await expect(PgStore.open(cluster.databaseUrl('missing'))).rejects.toThrow('has no database "missing" (create it with createdb missing)');
  });

  it('a database of a newer schema is refused, untouched', async () => {
    const url = await cluster.createDatabase('newer');
    const store = await PgStore.open(url);
    await store.close();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('UPDATE pixelwise_schema SET version = 99');
    await expect(connectDatabase(url)).rejects.toThrow(`written by a newer Pixelwise Studio (schema 99; this version reads up to ${pgSchemaVersion})`);
    expect((await client.query('SELECT version FROM pixelwise_schema')).rows).toEqual([{ version: 99 }]);
    await client.end();
  });

  it('a database of schema 1 is migrated: image statuses are worked out from what is stored', async () => {
    const url = await cluster.createDatabase('schema1');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(pgMigrations[0]);
    await client.query('CREATE TABLE pixelwise_schema (version integer NOT NULL); INSERT INTO pixelwise_schema VALUES (1)');
    for (const [index, image] of images.entries()) {
      await client.query(`INSERT INTO images (path, hash, width, height, byte_size, format, data, thumbnail, reviewed)
        VALUES ($1, $2, 64, 48, 1, 'jpeg', '\\x00', '\\x00', $3)`, [image.path, image.hash, index === 2]);
    }
    await client.query("INSERT INTO annotations (image_id, rle_counts, rle_height, rle_width, bbox_x, bbox_y, bbox_w, bbox_h, area) VALUES (1, '0', 48, 64, 0, 0, 1, 1, 1)");
    await client.end();
    const store = await PgStore.open(url);
    expect((await store.images.list({ offset: 0, limit: 10 })).items.map((i) => i.status)).toEqual(['annotated', 'new', 'reviewed']);
    await store.close();
  });

  it('a database of schema 3 (before accounts could be disabled) is upgraded: its users enabled, their sessions live', async () => {
    const url = await cluster.createDatabase('schema3');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    for (const migration of pgMigrations.slice(0, 3)) await client.query(migration);
    await client.query('CREATE TABLE pixelwise_schema (version integer NOT NULL); INSERT INTO pixelwise_schema VALUES (3)');
    await client.query("INSERT INTO users (name, role, password_hash) VALUES ('root', 'admin', 'h'), ('ann', 'labeler', 'h')");
    await client.query("INSERT INTO sessions (token_hash, user_id, expires_at) VALUES ('ann-old', 2, now() + interval '1 hour')");
    await client.end();
    const store = await PgStore.open(url);
    expect(await store.users.list()).toEqual([{ id: 1, name: 'root', role: 'admin', disabled: false }, { id: 2, name: 'ann', role: 'labeler', disabled: false }]);
    expect(await store.sessions.user('ann-old')).toEqual({ id: 2, name: 'ann', role: 'labeler' });
    await store.users.update(2, { disabled: true }, 1);
    expect([await store.sessions.user('ann-old'), await store.sessions.ended('ann-old')]).toEqual([undefined, 'disabled']);
    await store.signIns.fail('ann', new Date(), new Date(0));
    expect(await store.signIns.failures('ann', new Date(0))).toHaveLength(1);
    expect(await cluster.query(url, 'SELECT version FROM pixelwise_schema')).toEqual([{ version: pgSchemaVersion }]);
    await store.close();
  });

  it('a connection dropped in the middle of a save: a clear error, nothing half-written, the retry lands once', async () => {
    const url = await cluster.createDatabase('dropped');
    const store = await PgStore.open(url);
    const imageId = await store.images.add(images[0]);
    const user = (await store.users.create('ann', 'labeler', 'x')).id;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    // Another transaction holds the image's row, so the save waits mid-transaction; then its connection is cut.
    await admin.query('BEGIN');
    await admin.query('SELECT 1 FROM images WHERE id = $1 FOR UPDATE', [imageId]);
    const request = { imageId, baseVersion: 0, userId: user, saveId: 'retry-me', annotations: [{ classId: null, rle: mask(64, 48) }] };
    const saving = store.annotations.save(request).catch((error: unknown) => error);
    const killer = new pg.Client({ connectionString: url });
    await killer.connect();
    for (let waited = 0; ; waited += 50) {
      const { rows } = await killer.query("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = 'dropped'");
      if (rows.length) {
        await killer.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
        break;
      }
      if (waited > 10_000) throw new Error('the save never waited on the lock');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const error = await saving;
    expect(error).toMatchObject({ code: 'unavailable' });
    expect((error as Error).message).toMatch(/connection to the database at 127\.0\.0\.1:\d+ was lost; what was being saved did not reach it/);
    await admin.query('COMMIT');
    expect(await store.annotations.get(imageId)).toEqual({ imageId, version: 0, annotations: [] });
    expect((await store.annotations.save(request)).version).toBe(1);
    expect((await store.annotations.save(request)).version).toBe(1);
    expect(await store.annotations.history(imageId)).toHaveLength(1);
    await Promise.all([admin.end(), killer.end(), store.close()]);
  });
});
