/**
 * Account management on a team project: an admin disables (and re-enables) accounts, and a session ended early
 * (account disabled, password reset) keeps why until it would have expired, so its holder is told in words.
 */
export const accounts = `
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN ended TEXT CHECK (ended IN ('disabled', 'password-reset'));
CREATE INDEX sessions_user ON sessions (user_id);
`;
