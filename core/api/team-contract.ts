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
const accountName = z.string().trim().min(1).max(100);

export const teamRoles = ['admin', 'labeler', 'reviewer'] as const;
export type TeamRole = (typeof teamRoles)[number];

/** Roles an account can have: the studio's three, and worker (embedding workers on other machines; never signs in to a studio). */
export const accountRoles = [...teamRoles, 'worker'] as const;
export type AccountRole = (typeof accountRoles)[number];

/** An account on the team server as an admin sees it (team.users). */
export interface TeamAccount {
  name: string;
  role: AccountRole;
  /** A disabled account cannot sign in; disabling it ended its sessions and freed the images it held. */
  disabled: boolean;
}

/** What an account change did (team.updateUser): the account now, sessions ended, images freed from its hold. */
export interface TeamAccountChange {
  account: TeamAccount;
  endedSessions: number;
  freedImages: number[];
}

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
    /*
     * Accounts, for admins of a team project (the server refuses anyone else with 'forbidden'); a project file has
     * no accounts and answers 'team-only'. The server keeps its own rules (password length, the last enabled admin)
     * and says them in words.
     */
    users: method<TeamAccount[]>()(z.object({})),
    createUser: method<TeamAccount>()(z.object({ name: accountName, role: z.enum(accountRoles), password: z.string().min(1).max(1024) })),
    updateUser: method<TeamAccountChange>()(z.object({
      name: accountName, role: z.enum(accountRoles).optional(), password: z.string().min(1).max(1024).optional(), disabled: z.boolean().optional(),
    }).refine((input) => input.role !== undefined || input.password !== undefined || input.disabled !== undefined, 'give a role, a password or disabled')),
  },
} as const;
