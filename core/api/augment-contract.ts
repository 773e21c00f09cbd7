/**
 * Augment: variants of annotated images made by editing their embedding maps inside the objects and decoding
 * them (electron/augment). Runs as a job; the variants are synthetic images linked to their source.
 */
import { z } from 'zod';
import { augmentEdits } from '../augment/edits';
import type { JobRecord } from './records';
import { method } from './method';

const id = z.number().int().positive();

export const augmentRequestSchema = z.object({
  imageIds: z.array(id).min(1).max(10_000),
  /** Variants per image. */
  variants: z.number().int().min(1).max(20).default(3),
  edit: z.enum(augmentEdits).default('jitter'),
  /** 0 = no change, 1 = the full move, up to 2 extrapolates. */
  strength: z.number().min(0).max(2).default(0.7),
  /** Same seed, same variants. */
  seed: z.number().int().min(0).max(2 ** 31).optional(),
});

export const augmentContract = {
  augment: {
    /** Queues an augment job; its result is { created, imageIds, skipped: [{ imageId, reason }] }. */
    start: method<JobRecord>()(augmentRequestSchema),
    /** Removes every image a finished or cancelled augment job made (with their objects and files). */
    undo: method<{ removed: number }>()(z.object({ jobId: id })),
  },
} as const;
