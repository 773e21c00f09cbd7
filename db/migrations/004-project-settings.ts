/**
 * Per-project settings as key -> JSON value. First key: 'model', the embedding model the project works with
 * (set when a switch to another model completes; see electron/jobs/embed-job.ts).
 */
export const projectSettings = `
CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL                   -- JSON
);
`;
