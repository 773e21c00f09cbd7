/** Jobs keep what they produced (export path, import counts, warnings) for the UI and the CLI to show. */
export const jobResults = `
ALTER TABLE jobs ADD COLUMN result TEXT; -- JSON, set when the job finishes
`;
