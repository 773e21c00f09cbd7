/**
 * What the open project offers, in one place: a project file offers everything but accounts (manageAccounts: it
 * has one labeler and no accounts); a team project (ProjectInfo.team)
 * lacks what the team server does not serve (its calls answer 'team-unsupported': augment, dataset import,
 * removing images, discovery, model changes; the list is electron/team/studio-api.ts unsupportedOnTeam) and what the signed-in role may not do (the server refuses those with
 * 'forbidden' anyway; the studio does not offer them). Views ask `capabilities` and show the reason as a tooltip
 * instead of testing the role themselves.
 */
import type { TeamInfo, TeamRole } from '../../../core/api/team-contract';

export const projectActions = [
  'augment', 'exportDataset', 'importDataset', 'removeImages', 'refineSearch', 'acceptHits', 'discover', 'changeModel',
  'importImages', 'embed', 'editClasses', 'draw', 'review', 'manageAccounts',
] as const;
export type ProjectAction = (typeof projectActions)[number];

/** For each action: null when the open project offers it, else the i18n key (namespace team) saying why not. */
export type Capabilities = Record<ProjectAction, string | null>;

/** Not served by a team server at all, whatever the role. */
const notOnTeamServer: ReadonlySet<ProjectAction> = new Set(['augment', 'importDataset', 'removeImages', 'discover', 'changeModel']);

/** Only a team project has it: a project file has one labeler and no accounts. */
const onlyOnTeam: ReadonlySet<ProjectAction> = new Set(['manageAccounts']);

/** Team roles allowed each remaining action (the server's own role table, electron/team/api.ts). */
const rolesFor: Partial<Record<ProjectAction, { roles: readonly TeamRole[]; why: string }>> = {
  importImages: { roles: ['admin'], why: 'team.why.adminOnly' },
  embed: { roles: ['admin'], why: 'team.why.adminOnly' },
  editClasses: { roles: ['admin'], why: 'team.why.adminOnly' },
  draw: { roles: ['admin', 'labeler'], why: 'team.why.labelersOnly' },
  // Turning search hits into objects writes them; judging hits (refineSearch) only re-ranks, for every role.
  acceptHits: { roles: ['admin', 'labeler'], why: 'team.why.labelersOnly' },
  review: { roles: ['admin', 'reviewer'], why: 'team.why.reviewersOnly' },
  manageAccounts: { roles: ['admin'], why: 'team.why.adminOnly' },
};

export function capabilitiesOf(team: TeamInfo | null | undefined): Capabilities {
  const entries = projectActions.map((action): [ProjectAction, string | null] => {
    if (!team) return [action, onlyOnTeam.has(action) ? 'team.why.teamOnly' : null];
    if (notOnTeamServer.has(action)) return [action, 'team.why.unsupported'];
    const rule = rolesFor[action];
    return [action, !rule || rule.roles.includes(team.role) ? null : rule.why];
  });
  return Object.fromEntries(entries) as Capabilities;
}

/** "studio.example.com:8443" for the status bar: the server's host without scheme or path. */
export function serverHost(server: string): string {
  try {
    return new URL(server).host || server;
  } catch {
    return server;
  }
}
