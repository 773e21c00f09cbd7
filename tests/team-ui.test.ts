/**
 * The studio's side of team projects that needs no server: what each role is offered (team/capabilities.ts, the
 * one table the views read) and the team strings in English and Russian alike. The dialog, the banner and the
 * conflict notice run against a real team server in tests/e2e/team.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { capabilitiesOf, projectActions, serverHost } from '../renderer/src/team/capabilities';
import en from '../renderer/src/i18n/en/team';
import ru from '../renderer/src/i18n/ru/team';

type Tree = { [key: string]: string | Tree };

function flatten(tree: Tree, prefix = ''): Record<string, string> {
  return Object.fromEntries(Object.entries(tree).flatMap(([key, value]) =>
    typeof value === 'string' ? [[`${prefix}${key}`, value]] : Object.entries(flatten(value, `${prefix}${key}.`))));
}

const offered = (team: Parameters<typeof capabilitiesOf>[0]) =>
  projectActions.filter((action) => capabilitiesOf(team)[action] === null);
const server = 'https://studio.example.com:8443';

describe('team capabilities', () => {
  it('a project file offers everything but accounts (it has none)', () => {
    expect(offered(null)).toEqual(projectActions.filter((action) => action !== 'manageAccounts'));
    expect(offered(undefined)).toEqual(offered(null));
    expect(capabilitiesOf(null).manageAccounts).toBe('team.why.teamOnly');
  });

  it('a team project never offers what the server does not serve; each role what the server allows it', () => {
    expect(offered({ server, user: 'root', role: 'admin' })).toEqual(['exportDataset', 'refineSearch', 'acceptHits', 'importImages', 'embed', 'editClasses', 'draw', 'review', 'manageAccounts']);
    expect(offered({ server, user: 'ann', role: 'labeler' })).toEqual(['exportDataset', 'refineSearch', 'acceptHits', 'draw']);
    expect(offered({ server, user: 'rita', role: 'reviewer' })).toEqual(['exportDataset', 'refineSearch', 'review']);
  });

  it('says why, in words the team strings hold', () => {
    const reviewer = capabilitiesOf({ server, user: 'rita', role: 'reviewer' });
    expect([reviewer.draw, reviewer.augment, reviewer.editClasses]).toEqual(['team.why.labelersOnly', 'team.why.unsupported', 'team.why.adminOnly']);
    expect(reviewer.manageAccounts).toBe('team.why.adminOnly');
    const english = flatten(en);
    for (const why of [...Object.values(reviewer), ...Object.values(capabilitiesOf(null))]) if (why) expect(english[why.replace(/^team\./, '')]).toBeTruthy();
  });

  it('the status bar shows the server by its host', () => {
    expect(serverHost(server)).toBe('studio.example.com:8443');
    expect(serverHost('http://127.0.0.1:5000/')).toBe('127.0.0.1:5000');
    expect(serverHost('not a url')).toBe('not a url');
  });
});

describe('team strings', () => {
  it('has every English key in Russian with the same placeholders', () => {
    const placeholders = (text: string) => [...new Set(text.match(/\{\w+\}/g) ?? [])].sort();
    const english = flatten(en), russian = flatten(ru);
    expect(Object.keys(russian).sort()).toEqual(Object.keys(english).sort());
    for (const [key, text] of Object.entries(english)) expect([key, placeholders(russian[key])]).toEqual([key, placeholders(text)]);
  });
});
