/**
 * `pixelwise serve` end to end on a real PostgreSQL cluster: the first admin and no default password, the loud
 * plain-HTTP warning, sign-in, every call authorised by role, image leases, versioned saves with 409 conflicts,
 * review, the activity log, an embedding worker process, then click-to-mask on what it stored; and a server
 * refused in words for a wrong address, an unreachable database or a newer schema.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unpackEmbedding } from '../core/api/blobs';
import { encodeRle } from '../core/rle';
import { pgSchemaVersion } from '../db/pg/schema';
import { Project } from '../db/project';
import { acquireProjectLock } from '../electron/services/project-lock';
import { tempDir, writeImages } from './fixtures';
import { freePort, type PgCluster, startPgCluster } from './pg-cluster';
import { type CliProcess, signIn, spawnCli, teamCall, waitForOutput } from './team-cli';

let cluster: PgCluster;
let database: string;
let server: CliProcess;
let origin: string;
let dir: string;
let admin: string;
const password = 'correct horse battery';

beforeAll(async () => {
  cluster = await startPgCluster();
  database = await cluster.createDatabase('team');
  dir = tempDir();
  writeFileSync(join(dir, 'admin-password'), `${password}\n`, { mode: 0o600 });
  const port = await freePort();
  // 0.0.0.0: the warning must show; requests still come in on 127.0.0.1.
  server = spawnCli(['serve', '--database', database, '--host', '0.0.0.0', '--port', String(port), '--admin-password-file', join(dir, 'admin-password')]);
  await waitForOutput(server, /Pixelwise team server: http/);
  origin = `http://127.0.0.1:${port}`;
  admin = await signIn(origin, 'admin', password);
});

afterAll(async () => {
  server?.process.kill('SIGTERM');
  await server?.exited;
  await cluster?.stop();
});

function mask(width: number, height: number, w: number) {
  const pixels = new Uint8Array(width * height);
  for (let y = 0; y < 8; y++) pixels.fill(1, y * width, y * width + w);
  return encodeRle({ width, height, data: pixels });
}

describe('pixelwise serve', () => {
  it('warns loudly when it listens off loopback in plain HTTP, and created the admin from the password file', () => {
    expect(server.stderr()).toContain('WARNING: the team server is listening on 0.0.0.0');
    expect(server.stderr()).toContain('Put a TLS reverse proxy in front of it');
    expect(server.stderr()).toContain('created the admin account "admin"');
  });

  it('refuses to start a project without accounts when no admin password is given: there is no default', async () => {
    const empty = await cluster.createDatabase('empty');
    const cli = spawnCli(['serve', '--database', empty, '--port', String(await freePort())], { PIXELWISE_ADMIN_PASSWORD: '' });
    expect(await cli.exited).toBe(2);
    expect(cli.stderr()).toContain("this team project has no accounts yet: give the first admin's password with --admin-password-file");
  });

  it('a wrong URL, an unreachable database and a newer schema: one sentence each, exit 1 or 2', async () => {
    const wrong = spawnCli(['serve', '--database', 'mysql://db.example/team']);
    expect(await wrong.exited).toBe(1);
    expect(wrong.stderr()).toContain('is not a PostgreSQL address (it should start with postgres://)');
    const port = await freePort();
    const away = spawnCli(['worker', '--database', `postgres://u:secret@127.0.0.1:${port}/team`]);
    expect(await away.exited).toBe(1);
    expect(away.stderr().trim()).toBe(`pixelwise: cannot reach the database server at 127.0.0.1:${port}: nothing is listening there (is PostgreSQL running, and is the port right?)`);
    expect(away.stderr()).not.toContain('secret');
    const newer = await cluster.createDatabase('newer');
    const client = new pg.Client({ connectionString: newer });
    await client.connect();
    await client.query('CREATE TABLE pixelwise_schema (version integer NOT NULL); INSERT INTO pixelwise_schema VALUES (7)');
    await client.end();
    const refused = spawnCli(['serve', '--database', newer, '--admin-password-file', join(dir, 'admin-password')]);
    expect(await refused.exited).toBe(1);
    expect(refused.stderr()).toContain(`was written by a newer Pixelwise Studio (schema 7; this version reads up to ${pgSchemaVersion}). Update Pixelwise to use it.`);
  });

  it('a project file can be served too, locked as the studio locks it: one writer process at a time', async () => {
    const file = join(dir, 'served.pixelwise');
    new Project(file, { create: true }).close();
    const release = acquireProjectLock(file);
    const refused = spawnCli(['serve', '--database', file, '--port', String(await freePort()), '--admin-password-file', join(dir, 'admin-password')]);
    expect(await refused.exited).toBe(1);
    expect(refused.stderr()).toContain(`${file} is open in another Pixelwise process (pid ${process.pid}`);
    release();
    const port = await freePort();
    const served = spawnCli(['serve', '--database', file, '--port', String(port), '--admin-password-file', join(dir, 'admin-password')]);
    try {
      await waitForOutput(served, /Pixelwise team server/);
      const token = await signIn(`http://127.0.0.1:${port}`, 'admin', password);
      expect((await teamCall(`http://127.0.0.1:${port}`, token, 'auth.me')).result).toMatchObject({ role: 'admin', server: file });
      const info = spawnCli(['info', file]);
      expect(await info.exited).toBe(1);
      expect(info.stderr()).toContain('is open in another Pixelwise process');
    } finally {
      served.process.kill('SIGTERM');
      expect(await served.exited).toBe(0);
    }
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('sign-in: a wrong password or none is 401; a session ends at logout', async () => {
    expect((await teamCall(origin, null, 'auth.login', { name: 'admin', password: 'wrong password!' })).status).toBe(401);
    expect((await teamCall(origin, null, 'auth.login', { name: 'nobody', password })).error?.message).toBe('wrong user name or password');
    expect((await teamCall(origin, null, 'classes.list')).status).toBe(401);
    expect((await teamCall(origin, 'x'.repeat(43), 'classes.list')).error?.message).toBe('your session has expired or was ended; sign in again');
    const token = await signIn(origin, 'ADMIN', password);
    expect((await teamCall(origin, token, 'auth.me')).result).toMatchObject({ name: 'admin', role: 'admin', server: expect.stringContaining('postgres://') });
    expect((await teamCall(origin, token, 'auth.logout')).ok).toBe(true);
    expect((await teamCall(origin, token, 'auth.me')).status).toBe(401);
    // Guessing: after 5 failures in 10 minutes (one above) the name is refused, even with the right password.
    for (let i = 0; i < 4; i++) expect((await teamCall(origin, null, 'auth.login', { name: 'Admin', password: `guess ${i}` })).status).toBe(401);
    const locked = await teamCall(origin, null, 'auth.login', { name: 'admin', password });
    expect([locked.status, locked.error?.message]).toEqual([429, 'too many failed sign-ins as "admin"; try again in 10 minutes']);
  });

  it('the lockout is kept in the database: another server process on it (or this one restarted) refuses the name too', async () => {
    const port = await freePort();
    const second = spawnCli(['serve', '--database', database, '--port', String(port)]);
    try {
      await waitForOutput(second, /Pixelwise team server/);
      const locked = await teamCall(`http://127.0.0.1:${port}`, null, 'auth.login', { name: 'ADMIN', password });
      expect([locked.status, locked.error?.message]).toEqual([429, 'too many failed sign-ins as "ADMIN"; try again in 10 minutes']);
      expect((await cluster.query(database, "SELECT count(*)::int AS n FROM sign_in_failures WHERE name = 'admin'"))[0].n).toBe(5);
    } finally {
      second.process.kill('SIGTERM');
      await second.exited;
    }
  });

  it('roles: each call is for the roles the table lists, everything else is refused', async () => {
    for (const [name, role] of [['ann', 'labeler'], ['bob', 'labeler'], ['rita', 'reviewer']]) {
      expect((await teamCall(origin, admin, 'users.create', { name, role, password: `${name} password 1` })).ok).toBe(true);
    }
    expect((await teamCall(origin, admin, 'users.create', { name: 'eve', role: 'labeler', password: 'short' })).error?.message)
      .toBe('a password needs at least 10 characters');
    const ann = await signIn(origin, 'ann', 'ann password 1');
    const rita = await signIn(origin, 'rita', 'rita password 1');
    const forbidden = await teamCall(origin, ann, 'users.create', { name: 'mallory', role: 'admin', password: 'mallory password' });
    expect([forbidden.status, forbidden.error?.message]).toEqual([403, 'ann is a labeler; "users.create" is for admin accounts']);
    expect((await teamCall(origin, ann, 'classes.create', { name: 'cat' })).status).toBe(403);
    expect((await teamCall(origin, rita, 'annotations.save', { imageId: 1, baseVersion: 0, annotations: [] })).status).toBe(403);
    expect((await teamCall(origin, ann, 'review.accept', { imageId: 1, version: 0 })).status).toBe(403);
    expect((await teamCall(origin, ann, 'embeddings.start')).status).toBe(403);
    const unknown = await teamCall(origin, admin, 'projects.open', { path: '/etc/passwd' });
    expect([unknown.status, unknown.error?.message]).toEqual([404, 'the server has no call "projects.open"']);
    expect((await teamCall(origin, admin, 'constructor.name')).status).toBe(404);
    expect((await teamCall(origin, ann, 'classes.list')).ok).toBe(true);
  });

  it('images, leases, versioned saves, review and the activity log', async () => {
    const files = await writeImages(join(dir, 'images'), 2, 96, 64);
    const uploaded = [];
    for (const file of files) {
      const reply = await teamCall(origin, admin, 'images.upload', { path: `batch-1/${file.split('/').pop()}`, data: readFileSync(file).toString('base64') });
      expect(reply.ok).toBe(true);
      uploaded.push(reply.result.id as number);
    }
    const bad = await teamCall(origin, admin, 'images.upload', { path: 'notes.jpg', data: Buffer.from('not an image').toString('base64') });
    expect([bad.status, bad.error?.code]).toEqual([400, 'invalid-image']);
    const escaping = await teamCall(origin, admin, 'images.upload', { path: '../../etc/cron.d/x.jpg', data: readFileSync(files[0]).toString('base64') });
    expect([escaping.status, escaping.error?.message]).toEqual([400, 'images.upload: path: a relative path with / between folders, without . or .. parts']);
    const [first, second] = uploaded;
    const cat = (await teamCall(origin, admin, 'classes.create', { name: 'cat' })).result;
    const ann = await signIn(origin, 'ann', 'ann password 1');
    const bob = await signIn(origin, 'bob', 'bob password 1');
    const rita = await signIn(origin, 'rita', 'rita password 1');

    expect((await teamCall(origin, ann, 'leases.claim', { imageId: first })).result).toMatchObject({ userName: 'ann' });
    const taken = await teamCall(origin, bob, 'leases.claim', { imageId: first });
    expect([taken.status, taken.error?.code]).toEqual([409, 'leased']);
    expect(taken.error?.message).toMatch(/is being labeled by ann until/);
    expect((await teamCall(origin, bob, 'images.get', { id: first })).result.lease).toMatchObject({ userName: 'ann' });
    const intruding = await teamCall(origin, bob, 'annotations.save', { imageId: first, baseVersion: 0, annotations: [] });
    expect([intruding.status, intruding.error?.code]).toEqual([409, 'leased']);
    const unclaimed = await teamCall(origin, bob, 'annotations.save', { imageId: second, baseVersion: 0, annotations: [] });
    expect([unclaimed.status, unclaimed.error?.code]).toEqual([409, 'lease-required']);

    const saved = await teamCall(origin, ann, 'annotations.save', { imageId: first, baseVersion: 0, saveId: 'ann-1', annotations: [{ classId: cat.id, rle: mask(96, 64, 10) }] });
    expect(saved.result.version).toBe(1);
    // A second tab of ann's, still on version 0: a conflict that returns what is stored, never an overwrite.
    const stale = await teamCall(origin, ann, 'annotations.save', { imageId: first, baseVersion: 0, saveId: 'ann-tab-2', annotations: [] });
    expect([stale.status, stale.error?.code, stale.error?.current.version, stale.error?.current.annotations.length]).toEqual([409, 'conflict', 1, 1]);
    expect((await teamCall(origin, ann, 'annotations.get', { imageId: first })).result.annotations).toHaveLength(1);

    const outdated = await teamCall(origin, rita, 'review.accept', { imageId: first, version: 0 });
    expect([outdated.status, outdated.error?.code]).toEqual([409, 'conflict']);
    expect((await teamCall(origin, rita, 'review.accept', { imageId: first, version: 1, comment: 'good' })).result.status).toBe('reviewed');
    await teamCall(origin, ann, 'leases.release', { imageId: first });
    expect((await teamCall(origin, bob, 'leases.claim', { imageId: first })).ok).toBe(true);

    const activity = (await teamCall(origin, admin, 'activity.list', { imageId: first })).result as Array<{ action: string; userName: string }>;
    expect(activity.map((a) => `${a.action}:${a.userName}`)).toEqual(['claim:ann', 'save:ann', 'accept:rita', 'claim:bob']);
    expect((await teamCall(origin, bob, 'images.list', { search: 'batch-1', status: 'reviewed' })).result.total).toBe(1);
  });

  it('assignment: an admin assigns an image to a labeler for hours, and can take it back', async () => {
    const ann = await signIn(origin, 'ann', 'ann password 1');
    const assigned = await teamCall(origin, admin, 'leases.assign', { imageId: 2, user: 'bob', hours: 8 });
    expect(assigned.result).toMatchObject({ imageId: 2, userName: 'bob' });
    expect(Date.parse(assigned.result.expiresAt) - Date.now()).toBeGreaterThan(7.9 * 3600_000);
    expect((await teamCall(origin, ann, 'leases.claim', { imageId: 2 })).error?.message).toMatch(/^image 2 is being labeled by bob until/);
    expect((await teamCall(origin, admin, 'leases.assign', { imageId: 2, user: 'rita' })).error?.message).toBe('no labeler named "rita"');
    expect((await teamCall(origin, ann, 'leases.assign', { imageId: 2, user: 'ann' })).status).toBe(403);
    await teamCall(origin, admin, 'leases.revoke', { imageId: 2 });
    expect((await teamCall(origin, ann, 'leases.claim', { imageId: 2 })).result.userName).toBe('ann');
    await teamCall(origin, ann, 'leases.release', { imageId: 2 });
    const actions = (await teamCall(origin, admin, 'activity.list', { imageId: 2 })).result.map((a: { action: string; userName: string }) => `${a.action}:${a.userName}`);
    expect(actions).toEqual(['claim:bob', 'assign:admin', 'revoke:admin', 'claim:ann']);
  });

  it('embeddings: a worker process embeds the queue; then clicks make masks on the server', async () => {
    const queued = await teamCall(origin, admin, 'embeddings.start', { modelId: 'pixelwise-colorpos' });
    expect(queued.result).toEqual({ modelId: 'pixelwise-colorpos', queued: 2 });
    const worker = spawnCli(['worker', '--database', database, '--exit-when-idle']);
    expect(await worker.exited).toBe(0);
    const lines = worker.stdout().trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.filter((line) => line.outcome === 'done')).toHaveLength(2);
    expect(lines.at(-1)).toEqual({ worker: 'stopped', done: 2, failed: 0 });
    expect((await teamCall(origin, admin, 'embeddings.status')).result).toEqual({ queued: 0, running: 0, done: 2, failed: 0 });

    const ann = await signIn(origin, 'ann', 'ann password 1');
    const clicked = await teamCall(origin, ann, 'segment.clicks', { image: 2, clicks: [[30, 30, 1]], modelId: 'pixelwise-colorpos' });
    expect(clicked.ok).toBe(true);
    expect(clicked.result.rle.size).toEqual([64, 96]);
    // The map itself, for clients that segment locally: the stored grid, unpacked as the studio unpacks its blobs.
    const map = unpackEmbedding(Buffer.from((await teamCall(origin, ann, 'embeddings.get', { imageId: 2, modelId: 'pixelwise-colorpos' })).result.data, 'base64'));
    expect([map.imageWidth, map.imageHeight]).toEqual([96, 64]);
    expect(map.bytes.length).toBe(map.width * map.height * map.dim * (map.dtype === 'int8' ? 1 : 2));
    const outside = await teamCall(origin, ann, 'segment.clicks', { image: 2, clicks: [[500, 30, 1]], modelId: 'pixelwise-colorpos' });
    expect(outside.error?.message).toBe('click (500, 30) is outside the 96x64 image');
  });

  it('the database going away: calls answer 503 in words, nothing half-saved, the same save lands once it is back', async () => {
    const ann = await signIn(origin, 'ann', 'ann password 1');
    expect((await teamCall(origin, ann, 'leases.claim', { imageId: 2 })).ok).toBe(true);
    const { version } = (await teamCall(origin, ann, 'annotations.get', { imageId: 2 })).result;
    const save = { imageId: 2, baseVersion: version, saveId: 'while-down', annotations: [{ classId: null, rle: mask(96, 64, 20) }] };
    await cluster.pause();
    try {
      const down = await teamCall(origin, ann, 'annotations.save', save);
      expect([down.status, down.error?.code]).toEqual([503, 'unavailable']);
      expect(down.error?.message).toMatch(/^(cannot reach the database server at 127\.0\.0\.1:\d+: nothing is listening there|the connection to the database at 127\.0\.0\.1:\d+ was lost)/);
    } finally {
      await cluster.resume();
    }
    expect((await teamCall(origin, ann, 'annotations.save', save)).result.version).toBe(version + 1);
    expect((await teamCall(origin, ann, 'annotations.save', save)).result.version).toBe(version + 1);
    expect((await teamCall(origin, ann, 'annotations.history', { imageId: 2 })).result.map((h: { saveId: string }) => h.saveId)).toEqual(['while-down']);
  });

  it('a worker through the server with a worker account: it embeds, and may do nothing else', async () => {
    const [file] = await writeImages(join(dir, 'more'), 1, 80, 60, 77);
    await teamCall(origin, admin, 'images.upload', { path: 'batch-2/late.jpg', data: readFileSync(file).toString('base64') });
    expect((await teamCall(origin, admin, 'embeddings.start', { modelId: 'pixelwise-colorpos' })).result.queued).toBe(1);
    expect((await teamCall(origin, admin, 'users.create', { name: 'gpu1', role: 'worker', password: 'gpu1 password 1' })).ok).toBe(true);
    const gpu = await signIn(origin, 'gpu1', 'gpu1 password 1');
    expect((await teamCall(origin, gpu, 'images.list')).status).toBe(403);
    expect((await teamCall(origin, gpu, 'annotations.get', { imageId: 1 })).status).toBe(403);
    const ann = await signIn(origin, 'ann', 'ann password 1');
    expect((await teamCall(origin, ann, 'tasks.claim', { worker: 'x', leaseSeconds: 60 })).status).toBe(403);

    const worker = spawnCli(['worker', '--server', origin, '--user', 'gpu1', '--name', 'box', '--exit-when-idle'], { PIXELWISE_PASSWORD: 'gpu1 password 1' });
    expect(await worker.exited).toBe(0);
    expect(worker.stdout().trim().split('\n').at(-1)).toBe('{"worker":"stopped","done":1,"failed":0}');
    expect((await teamCall(origin, admin, 'embeddings.status')).result).toEqual({ queued: 0, running: 0, done: 3, failed: 0 });
    const clicked = await teamCall(origin, ann, 'segment.clicks', { image: 3, clicks: [[40, 30, 1]], modelId: 'pixelwise-colorpos' });
    expect(clicked.result.rle.size).toEqual([60, 80]);
  });

  it('accounts: an admin disables (ending sessions, freeing leases), enables, resets a password and changes a role; a labeler cannot', async () => {
    expect((await teamCall(origin, admin, 'users.create', { name: 'dora', role: 'labeler', password: 'dora password 1' })).ok).toBe(true);
    const dora = await signIn(origin, 'dora', 'dora password 1');
    const ann = await signIn(origin, 'ann', 'ann password 1');
    const refused = await teamCall(origin, ann, 'users.update', { name: 'dora', disabled: true });
    expect([refused.status, refused.error?.message]).toEqual([403, 'ann is a labeler; "users.update" is for admin accounts']);
    expect((await teamCall(origin, dora, 'leases.claim', { imageId: 3 })).ok).toBe(true);

    const disabled = await teamCall(origin, admin, 'users.update', { name: 'dora', disabled: true });
    expect(disabled.result).toEqual({ user: { id: expect.any(Number), name: 'dora', role: 'labeler', disabled: true }, endedSessions: 1, freedLeases: [3] });
    const ended = await teamCall(origin, dora, 'annotations.get', { imageId: 3 });
    expect([ended.status, ended.error?.message]).toEqual([403, 'an admin disabled your account, which ended your session; ask an admin to enable it']);
    const again = await teamCall(origin, null, 'auth.login', { name: 'dora', password: 'dora password 1' });
    expect([again.status, again.error?.message]).toEqual([403, 'the account "dora" is disabled; ask an admin to enable it']);
    expect((await teamCall(origin, null, 'auth.login', { name: 'dora', password: 'not her password' })).error?.message).toBe('wrong user name or password');
    expect((await teamCall(origin, admin, 'users.list')).result.find((u: { name: string }) => u.name === 'dora')).toMatchObject({ role: 'labeler', disabled: true });
    expect((await teamCall(origin, admin, 'leases.assign', { imageId: 3, user: 'dora' })).error?.message).toBe("dora's account is disabled; enable it first (users.update)");
    // Her image is free at once, and the log says why.
    expect((await teamCall(origin, ann, 'leases.claim', { imageId: 3 })).result.userName).toBe('ann');
    await teamCall(origin, ann, 'leases.release', { imageId: 3 });
    const log = (await teamCall(origin, admin, 'activity.list', { imageId: 3 })).result;
    expect(log.map((a: { action: string; userName: string }) => `${a.action}:${a.userName}`)).toEqual(['claim:dora', 'revoke:admin', 'claim:ann']);
    expect(log[1].detail).toEqual({ from: 'dora', reason: 'account disabled' });

    expect((await teamCall(origin, admin, 'users.update', { name: 'dora', disabled: false })).result.user.disabled).toBe(false);
    const back = await signIn(origin, 'dora', 'dora password 1');
    const reset = await teamCall(origin, admin, 'users.update', { name: 'dora', password: 'dora password 2' });
    expect(reset.result).toMatchObject({ endedSessions: 1, freedLeases: [] });
    const stale = await teamCall(origin, back, 'classes.list');
    expect([stale.status, stale.error?.message]).toEqual([401, 'an admin reset your password, which ended your session; sign in with the new password']);
    expect((await teamCall(origin, null, 'auth.login', { name: 'dora', password: 'dora password 1' })).status).toBe(401);
    const fresh = await signIn(origin, 'dora', 'dora password 2');
    expect((await teamCall(origin, admin, 'users.update', { name: 'dora', role: 'reviewer' })).result.user.role).toBe('reviewer');
    expect((await teamCall(origin, fresh, 'leases.claim', { imageId: 3 })).error?.message).toBe('dora is a reviewer; "leases.claim" is for admin or labeler accounts');

    // Refusals in words: a short password, an unknown name, nothing to change, the admin's own account, the last admin.
    expect((await teamCall(origin, admin, 'users.update', { name: 'dora', password: 'short' })).error?.message).toBe('a password needs at least 10 characters');
    expect((await teamCall(origin, admin, 'users.update', { name: 'nobody', disabled: true })).error?.message).toBe('no user named "nobody"');
    expect((await teamCall(origin, admin, 'users.update', { name: 'dora' })).error?.message).toBe('users.update: input: give a role, a password or disabled');
    expect((await teamCall(origin, admin, 'users.update', { name: 'admin', disabled: true })).error?.message).toBe('you cannot disable your own account; another admin can');
    const last = await teamCall(origin, admin, 'users.update', { name: 'admin', role: 'labeler' });
    expect([last.status, last.error?.message]).toEqual([409, 'admin is the only enabled admin; make another account an admin first']);
    expect((await teamCall(origin, admin, 'auth.me')).result.role).toBe('admin');
  });

  it('a worker whose account is disabled stops at once, in words, leaving its tasks to others', async () => {
    const live = async () => (await cluster.query<{ n: number }>(database,
      "SELECT count(*)::int AS n FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.name = 'gpu1' AND s.ended IS NULL AND s.expires_at > now()"))[0].n;
    const before = await live();
    const worker = spawnCli(['worker', '--server', origin, '--user', 'gpu1', '--name', 'idle'], { PIXELWISE_PASSWORD: 'gpu1 password 1' });
    for (let waited = 0; await live() === before; waited += 50) {
      expect(worker.process.exitCode, worker.stderr()).toBeNull();
      if (waited > 30_000) throw new Error('the worker never signed in');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await teamCall(origin, admin, 'users.update', { name: 'gpu1', disabled: true })).result.endedSessions).toBeGreaterThanOrEqual(1);
    expect(await worker.exited).toBe(1);
    expect(worker.stderr().trim()).toBe('pixelwise: an admin disabled your account, which ended your session; ask an admin to enable it');
    expect((await teamCall(origin, admin, 'embeddings.status')).result.failed).toBe(0);
    await teamCall(origin, admin, 'users.update', { name: 'gpu1', disabled: false });
  });

  it('pixelwise users: the admin on the server machine lists and changes accounts on the database', async () => {
    const listed = spawnCli(['users', 'list', '--database', database]);
    expect(await listed.exited).toBe(0);
    expect(JSON.parse(listed.stdout()).find((u: { name: string }) => u.name === 'bob')).toMatchObject({ role: 'labeler', disabled: false });
    const bob = await signIn(origin, 'bob', 'bob password 1');
    const disable = spawnCli(['users', 'disable', 'bob', '--database', database]);
    expect(await disable.exited).toBe(0);
    const disabled = JSON.parse(disable.stdout());
    expect(disabled.user).toMatchObject({ name: 'bob', disabled: true });
    expect(disabled.endedSessions).toBeGreaterThanOrEqual(1); // this test's and the earlier tests' sessions of bob's
    expect((await teamCall(origin, bob, 'classes.list')).status).toBe(403);
    const enable = spawnCli(['users', 'enable', 'bob', '--database', database]);
    expect(await enable.exited).toBe(0);
    const reset = spawnCli(['users', 'reset-password', 'bob', '--database', database], { PIXELWISE_PASSWORD: 'bob password 2' });
    expect(await reset.exited).toBe(0);
    expect((await teamCall(origin, (await signIn(origin, 'bob', 'bob password 2')), 'auth.me')).result.name).toBe('bob');
    const wrongRole = spawnCli(['users', 'set-role', 'bob', 'boss', '--database', database]);
    expect(await wrongRole.exited).toBe(2);
    expect(wrongRole.stderr()).toMatch(/^"boss" is not a role; roles: admin, labeler, reviewer, worker\n/);
    const last = spawnCli(['users', 'set-role', 'admin', 'labeler', '--database', database]);
    expect([await last.exited, last.stderr().trim()]).toEqual([1, 'pixelwise: admin is the only enabled admin; make another account an admin first']);
  });
});
