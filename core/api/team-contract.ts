/**
 * Team projects seen from the studio: a project that lives on a team server (`pixelwise serve`) is opened with the
 * server's address and an account; after that the renderer calls the same API as for a project file, and the main
 * side forwards to the server (electron/team/studio-api.ts). What only a shared project has: an image is claimed
 * before it is edited (a lease, so two labelers do not work on one image unknowingly) and released after.
 */
import { z } from 'zod';
import type { ProjectInfo } from './records';
import { method } from './method';

const id = z.number().int().positive();

export const teamRoles = ['admin', 'labeler', 'reviewer'] as const;
export type TeamRole = (typeof teamRoles)[number];

/** Who is signed in where; on ProjectInfo.team for a team project (null for a project file). */
export interface TeamInfo {
  /** The server's origin, e.g. https://studio.example.com. */
  server: string;
  user: string;
  role: TeamRole;
}

/** The caller's hold on an image: `held` false means someone else (`holder`) is labeling it until `until`. */
export interface ImageClaim {
  held: boolean;
  holder: string | null;
  /** ISO time the lease ends; null for a project file (nothing to lease). */
  until: string | null;
}

export const teamContract = {
  team: {
    /** Signs in and opens the server's project; the password is not stored. */
    open: method<ProjectInfo>()(z.object({
      server: z.string().trim().min(1).max(2000),
      user: z.string().trim().min(1).max(100),
      password: z.string().min(1).max(1000),
    })),
    /** Claims (or renews the claim on) an image before editing it; always held on a project file. */
    claim: method<ImageClaim>()(z.object({ imageId: id })),
    /** Gives an image back when the labeler leaves it; nothing on a project file. */
    release: method<void>()(z.object({ imageId: id })),
  },
} as const;
