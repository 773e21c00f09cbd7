/**
 * Turns what Node, SQLite and V8 throw into the API's stable error codes with messages in a labeler's words
 * (audit F16, walkthrough 9): "attempt to write a readonly database", "EISDIR: illegal operation on a directory"
 * or "Invalid typed array length" are not for people, and a user-caused error is not an internal one.
 * The codes are listed with ApiError in core/api/contract.ts; the renderer translates them by code.
 */
import { ApiError } from '../../core/api/contract';

interface CodedError extends Error {
  code?: string;
  path?: string;
}

/** A write failed because the disk (or the database's size limit) is full. */
export function isDiskFull(error: unknown): boolean {
  const code = (error as CodedError | null)?.code ?? '';
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT';
}

const diskFull = 'the disk is full: free some space and try again (nothing saved so far is lost)';

/**
 * The ApiError a failure should cross the API as. `subject` names what was being worked on (a file path) where
 * the error does not say it itself. Unknown errors stay 'internal' with their own text.
 */
export function toApiError(error: unknown, subject?: string): ApiError {
  if (error instanceof ApiError) return error;
  const coded = (error ?? {}) as CodedError;
  const code = coded.code ?? '';
  const what = coded.path ?? subject;
  const about = what ? `${what}: ` : '';
  if (isDiskFull(error)) return new ApiError('disk-full', `${about}${diskFull}`);
  if (code.startsWith('SQLITE_READONLY') || code === 'EROFS') {
    return new ApiError('read-only', `${about}the project file is read-only: check its permissions (Pixelwise writes to the project file as you work)`);
  }
  if (code === 'EACCES' || code === 'EPERM') return new ApiError('permission-denied', `${about}permission denied: check the file's and its folder's permissions`);
  if (code === 'EISDIR') return new ApiError('is-a-folder', `${about}is a folder, not a file`);
  if (code === 'ENOENT' || code === 'ENOTDIR') return new ApiError('not-found', `${about}no such file or folder`);
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
    return new ApiError('conflict', 'something this change refers to no longer exists in the project (a class or an image removed meanwhile); reload and try again');
  }
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return new ApiError('in-use', `${about}the project is busy in another process; try again`);
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') return new ApiError('damaged', `${about}the project file is damaged`);
  if (error instanceof URIError) return new ApiError('invalid-input', 'the address is not valid (bad % escape)');
  if (error instanceof RangeError && /array length|allocation failed|Invalid string length/i.test(error.message)) {
    return new ApiError('too-large', 'the request asks for more memory than there is');
  }
  return new ApiError('internal', (error as Error | null)?.message ?? String(error));
}
