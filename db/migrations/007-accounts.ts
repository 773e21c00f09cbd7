/**
 * Account management on a team project: an admin disables (and re-enables) accounts; a session ended early
 * (account disabled, password reset) keeps why until it would have expired, so its holder is told in words; and
 * failed sign-ins are kept in the project (electron/team/auth.ts), so restarting the server does not reset the
 * lockout of a guessed name.
 */
export const accounts = `
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN ended TEXT CHECK (ended IN ('disabled', 'password-reset'));
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE sign_in_failures (
  name TEXT NOT NULL,                   -- the name tried, lower-cased
  at TEXT NOT NULL
);
CREATE INDEX sign_in_failures_name ON sign_in_failures (name, at);
`;
