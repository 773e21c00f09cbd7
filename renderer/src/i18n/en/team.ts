/** Team projects: the sign-in dialog, the status bar, claims, conflicts and what a team project does not offer. */
import type { MessageTree } from '../messages';

export default {
  open: {
    button: 'Open team project…',
    sectionTitle: 'Team project',
    sectionText: 'A project on a team server that many labelers share. Sign in with your account (Alt+T).',
    title: 'Open team project',
    intro: 'A project on a team server (pixelwise serve). Sign in with the account your admin gave you; the password is not stored.',
    server: 'Server address',
    serverPlaceholder: 'https://studio.example.com',
    user: 'User name',
    password: 'Password',
    submit: 'Sign in and open',
    signingIn: 'Signing in…',
    failed: 'Could not open the team project',
    missing: 'Enter the server address, your user name and your password.',
    shortcut: 'Open a team project (server address and sign-in)',
    againFor: 'Sign in again as {user} on {server}.',
  },
  recent: {
    label: 'Team project',
    as: '{user} on {server}',
  },
  status: {
    server: 'Team server: {server}',
    user: '{user} ({role})',
    file: 'Project file: {path}',
  },
  roles: { admin: 'admin', labeler: 'labeler', reviewer: 'reviewer' },
  why: {
    unsupported: 'A team project does not offer this; make a local copy (pixelwise pull) to use it.',
    adminOnly: 'Only an admin of this team project can do this.',
    labelersOnly: 'Drawing is for labelers; as a reviewer you accept or reject.',
    reviewersOnly: 'Accepting and rejecting is for reviewers.',
  },
  claim: {
    heldBy: 'Being labeled by {holder} until {time}',
    heldByHint: 'You can look at this image; the tools that change objects are off and nothing is saved.',
    leased: 'Someone else holds this image now; your changes stay on screen and are not saved.',
    reviewer: 'You review this project: accept or reject; the drawing tools are for labelers.',
    recheck: 'Check again',
  },
  conflict: {
    title: 'Someone saved this image while you worked on it.',
    detail: 'Your objects are still on screen and not lost. Choose whose version to keep.',
    theirs: 'Load their version',
    theirsHint: 'Shows their objects; yours stay one Undo (Ctrl+Z) away.',
    mine: 'Keep mine',
    mineHint: 'Saves your objects over theirs.',
    failed: 'That did not go through; your objects are still on screen',
  },
  review: {
    accept: 'Accept',
    reject: 'Reject',
    accepted: 'Accepted',
    rejected: 'Sent back to labeling',
    failed: 'Could not record the review',
  },
} satisfies MessageTree;
