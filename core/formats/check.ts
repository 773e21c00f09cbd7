/** Small validators for parsed JSON: each failure is a FormatError naming the file and the JSON path. */
import { FormatError } from './errors';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function parseJson(text: string, file: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (error) {
    throw new FormatError(file, `is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
}

export class Checker {
  constructor(readonly file: string) {}

  fail(where: string, problem: string): never {
    throw new FormatError(this.file, `${where} ${problem}`);
  }

  object(value: Json | undefined, where: string): JsonObject {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) this.fail(where, `must be an object, got ${kind(value)}`);
    return value;
  }

  array(value: Json | undefined, where: string): Json[] {
    if (!Array.isArray(value)) this.fail(where, `must be an array, got ${kind(value)}`);
    return value;
  }

  string(value: Json | undefined, where: string): string {
    if (typeof value !== 'string' || value.length === 0) this.fail(where, `must be a non-empty string, got ${kind(value)}`);
    return value;
  }

  number(value: Json | undefined, where: string): number {
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(where, `must be a number, got ${kind(value)}`);
    return value;
  }

  /** Integer in [min, max]. */
  integer(value: Json | undefined, where: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.fail(where, `must be an integer from ${min} to ${max}, got ${kind(value)}`);
    }
    return value;
  }

  /** An id as COCO writes it: integer or non-empty string. */
  id(value: Json | undefined, where: string): number | string {
    if (typeof value === 'number' && Number.isInteger(value)) return value;
    if (typeof value === 'string' && value.length) return value;
    this.fail(where, `must be an integer id, got ${kind(value)}`);
  }
}

export function kind(value: Json | undefined): string {
  if (value === undefined) return 'nothing (missing)';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.length > 40 ? `a string ("${value.slice(0, 40)}...")` : `"${value}"`;
  if (typeof value === 'object') return 'an object';
  return String(value);
}

/** Dataset-relative names are '/'-separated and may not climb out of the dataset or be absolute. */
export function safeRelativeName(name: string, file: string, where: string): string {
  const normalised = name.replace(/\\/g, '/').replace(/^\.\//, '');
  const parts = normalised.split('/');
  if (normalised.startsWith('/') || /^[a-zA-Z]:/.test(normalised) || parts.includes('..') || normalised.includes('\0')) {
    throw new FormatError(file, `${where} "${name}" points outside the dataset folder`);
  }
  return parts.filter((p) => p !== '' && p !== '.').join('/');
}
