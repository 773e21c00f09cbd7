/**
 * Augment: images made from another image are marked synthetic, linked to their source, and remember the job
 * that made them (so the job can be undone as a whole).
 */
export const synthetic = `
ALTER TABLE images ADD COLUMN synthetic INTEGER NOT NULL DEFAULT 0;
ALTER TABLE images ADD COLUMN source_image_id INTEGER REFERENCES images (id) ON DELETE SET NULL;
ALTER TABLE images ADD COLUMN augment_job_id INTEGER; -- jobs.id of the augment job that made it
CREATE INDEX images_augment_job ON images (augment_job_id) WHERE augment_job_id IS NOT NULL;
`;
