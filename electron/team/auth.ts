/**
 * Accounts for the team server: scrypt password hashes (node:crypto, a random salt each, the parameters stored
 * with the hash so they can be raised later), and bearer session tokens of 256 random bits of which only the
 * sha256 is stored, so a copy of the database holds no usable token. Sessions expire.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { ApiError } from '../../core/api/contract';
import type { AccountUpdate, Role, Store, UserRecord } from '../../db/store';

/**
 * scrypt's cost: N = 2^15, r = 8, p = 1 (32 MiB, 0.46 s on this 2-core machine under load): paid once per sign-in,
 * never per request (requests carry the session token).
 */
const cost = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const keyLength = 32;

function derive(password: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyLength, { ...params, maxmem: cost.maxmem }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

export function checkPassword(password: string): void {
  if (password.length < 10) throw new ApiError('invalid-input', 'a password needs at least 10 characters');
  if (password.length > 1024) throw new ApiError('invalid-input', 'a password may have at most 1024 characters');
}

export async function hashPassword(password: string): Promise<string> {
  checkPassword(password);
  const salt = randomBytes(16);
  const key = await derive(password, salt, cost);
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !key) return false;
  const expected = Buffer.from(key, 'base64');
  const actual = await derive(password, Buffer.from(salt, 'base64'), { N: Number(n), r: Number(r), p: Number(p) });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

export const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');

/** A hash to compare against when the user does not exist, so a wrong name takes as long as a wrong password. */
let decoy: Promise<string> | null = null;

/**
 * Failed sign-ins per account name in the last window: after `failureLimit` of them the name is refused until the
 * oldest one leaves the window, so a password cannot be guessed at scrypt's speed (about 2 a second per core) for
 * long. Kept in the database (Store.signIns), so restarting the server does not reset it and servers sharing one
 * database share it.
 */
const failureLimit = 5;
const failureWindowMs = 10 * 60_000;

/** Checks the name and password; returns a new session's token. Wrong name or password: one message for both. */
export async function login(store: Store, name: string, password: string, sessionHours: number): Promise<{ token: string; user: UserRecord; expiresAt: string }> {
  const key = name.toLowerCase();
  const recent = await store.signIns.failures(key, new Date(Date.now() - failureWindowMs));
  if (recent.length >= failureLimit) {
    // Below the limit again once all but limit - 1 of them have left the window.
    const minutes = Math.ceil((recent[recent.length - failureLimit] + failureWindowMs - Date.now()) / 60_000);
    throw new ApiError('too-many-attempts', `too many failed sign-ins as "${name}"; try again in ${minutes} minute${minutes === 1 ? '' : 's'}`);
  }
  const found = await store.users.find(name);
  decoy ??= hashPassword('decoy password, never valid');
  const ok = await verifyPassword(password, found?.passwordHash ?? (await decoy));
  if (!found || !ok) {
    await store.signIns.fail(key, new Date(), new Date(Date.now() - failureWindowMs));
    throw new ApiError('unauthorized', 'wrong user name or password');
  }
  // Told only to whoever knows the password: a guesser learns nothing about the account.
  if (found.disabled) throw new ApiError('account-disabled', `the account "${found.name}" is disabled; ask an admin to enable it`);
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + sessionHours * 3600_000);
  await store.sessions.create(found.id, tokenHash(token), expiresAt);
  return { token, user: { id: found.id, name: found.name, role: found.role }, expiresAt: expiresAt.toISOString() };
}

/** The user a request's `Authorization: Bearer <token>` belongs to. */
export async function authenticate(store: Store, authorization: string | undefined): Promise<UserRecord> {
  const token = /^Bearer ([A-Za-z0-9_-]{20,100})$/.exec(authorization ?? '')?.[1];
  if (!token) throw new ApiError('unauthorized', 'sign in first (no session token was sent)');
  const user = await store.sessions.user(tokenHash(token));
  if (user) return user;
  const ended = await store.sessions.ended(tokenHash(token));
  if (ended === 'disabled') throw new ApiError('account-disabled', 'an admin disabled your account, which ended your session; ask an admin to enable it');
  if (ended === 'password-reset') throw new ApiError('unauthorized', 'an admin reset your password, which ended your session; sign in with the new password');
  throw new ApiError('unauthorized', 'your session has expired or was ended; sign in again');
}

/** What an admin asks to change on an account (users.update, pixelwise users); the password in clear, hashed here. */
export interface AccountRequest {
  role?: Role;
  password?: string;
  disabled?: boolean;
}

/**
 * Changes the account named `name` for an admin (`by`; null for the command line on the server machine). An admin
 * cannot disable their own account (they would end their own session with nobody to undo it from there).
 */
export async function updateAccount(store: Store, name: string, request: AccountRequest, by: UserRecord | null): Promise<AccountUpdate> {
  const account = await store.users.find(name);
  if (!account) throw new ApiError('not-found', `no user named "${name}"`);
  if (by && account.id === by.id && request.disabled) throw new ApiError('forbidden', 'you cannot disable your own account; another admin can');
  const passwordHash = request.password === undefined ? undefined : await hashPassword(request.password);
  return store.users.update(account.id, { role: request.role, disabled: request.disabled, passwordHash }, by?.id ?? null);
}
