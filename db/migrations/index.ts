/**
 * Schema migrations, in order; migration i (0-based) moves `PRAGMA user_version` from i to i + 1.
 * Append only: never edit a migration that has shipped.
 */
import { initial } from './001-initial';
import { regions } from './002-regions';
import { jobResults } from './003-job-results';
import { projectSettings } from './004-project-settings';
import { synthetic } from './005-synthetic';
import { team } from './006-team';
import { accounts } from './007-accounts';

export const migrations: string[] = [initial, regions, jobResults, projectSettings, synthetic, team, accounts];
