/** Annotations: one object mask per row, stored as COCO compressed RLE with its box and area. */
import { ApiError } from '../core/api/contract';
import type { AnnotationDraft, AnnotationRecord } from '../core/api/records';
import { decodeCounts, rleArea, rleBbox } from '../core/rle';
import type { Db } from './connection';

interface AnnotationRow {
  id: number;
  image_id: number;
  class_id: number | null;
  rle_counts: string;
  rle_height: number;
  rle_width: number;
  bbox_x: number; bbox_y: number; bbox_w: number; bbox_h: number;
  area: number;
  score: number | null;
  z_order: number;
  visible: number;
  source: AnnotationRecord['source'];
  created_at: string;
  updated_at: string;
}

/** A request the data cannot take (wrong mask size, unknown image): the API answers it as bad input, not a fault. */
export class AnnotationError extends ApiError {
  override name = 'AnnotationError';
  constructor(message: string) {
    super('invalid-annotation', message);
  }
}

function toRecord(row: AnnotationRow): AnnotationRecord {
  return {
    id: row.id,
    imageId: row.image_id,
    classId: row.class_id,
    rle: { size: [row.rle_height, row.rle_width], counts: row.rle_counts },
    bbox: [row.bbox_x, row.bbox_y, row.bbox_w, row.bbox_h],
    area: row.area,
    score: row.score,
    order: row.z_order,
    visible: row.visible === 1,
    source: row.source,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

type ImageSize = { width: number; height: number };

/**
 * Checks a draft against its image (the mask's size and RLE) and turns it into the stored columns; shared by the
 * SQLite repository and the PostgreSQL store, so both refuse the same bad masks with the same words.
 */
export function annotationRow(imageId: number, size: ImageSize | undefined, draft: AnnotationDraft, index: number) {
  if (!size) throw new AnnotationError(`image ${imageId} does not exist or failed to import`);
  const [height, width] = draft.rle.size;
  if (height !== size.height || width !== size.width) {
    throw new AnnotationError(`mask is ${width}x${height} but image ${imageId} is ${size.width}x${size.height}`);
  }
  const counts = decodeCounts(draft.rle.counts);
  if (counts.reduce((a, b) => a + b, 0) !== width * height) throw new AnnotationError('mask RLE does not cover the image');
  const [x, y, w, h] = rleBbox(draft.rle);
  return {
    id: draft.id ?? null, imageId, classId: draft.classId, counts: draft.rle.counts, height, width, x, y, w, h,
    area: rleArea(draft.rle), score: draft.score ?? null, order: draft.order ?? index, visible: draft.visible === false ? 0 : 1,
    source: draft.source ?? 'manual',
  };
}

export function annotationRepository(db: Db) {
  const forImage = db.prepare('SELECT * FROM annotations WHERE image_id = ? ORDER BY z_order, id');
  const byId = db.prepare('SELECT * FROM annotations WHERE id = ?');
  const imageSize = db.prepare('SELECT width, height FROM images WHERE id = ? AND hash IS NOT NULL');
  const insert = db.prepare(`INSERT INTO annotations
    (image_id, class_id, rle_counts, rle_height, rle_width, bbox_x, bbox_y, bbox_w, bbox_h, area, score, z_order, visible, source)
    VALUES (@imageId, @classId, @counts, @height, @width, @x, @y, @w, @h, @area, @score, @order, @visible, @source)`);
  const update = db.prepare(`UPDATE annotations SET class_id = @classId, rle_counts = @counts, rle_height = @height,
    rle_width = @width, bbox_x = @x, bbox_y = @y, bbox_w = @w, bbox_h = @h, area = @area, score = @score, z_order = @order,
    visible = @visible, source = @source, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    WHERE id = @id AND image_id = @imageId`);

  /** Validates a draft against its image and turns it into statement parameters. */
  function row(imageId: number, draft: AnnotationDraft, index: number) {
    return annotationRow(imageId, imageSize.get(imageId) as ImageSize | undefined, draft, index);
  }

  return {
    list: (imageId: number) => (forImage.all(imageId) as AnnotationRow[]).map(toRecord),
    get(id: number): AnnotationRecord | undefined {
      const found = byId.get(id) as AnnotationRow | undefined;
      return found && toRecord(found);
    },
    /** Makes the image's objects exactly `drafts`: updates kept ids, inserts new ones, deletes the rest. Call inside a transaction. */
    replace(imageId: number, drafts: AnnotationDraft[]): void {
      const keep = new Set<number>();
      drafts.forEach((draft, index) => {
        const params = row(imageId, draft, index);
        if (draft.id !== undefined) {
          if (update.run(params).changes === 0) throw new AnnotationError(`annotation ${draft.id} does not belong to image ${imageId}`);
          keep.add(draft.id);
        } else {
          keep.add(Number(insert.run(params).lastInsertRowid));
        }
      });
      const existing = db.prepare('SELECT id FROM annotations WHERE image_id = ?').pluck().all(imageId) as number[];
      const remove = db.prepare('DELETE FROM annotations WHERE id = ?');
      for (const id of existing) if (!keep.has(id)) remove.run(id);
    },
    /** Appends objects; returns their ids. Call inside a transaction. */
    add(imageId: number, draft: AnnotationDraft): number {
      const next = db.prepare('SELECT coalesce(max(z_order) + 1, 0) FROM annotations WHERE image_id = ?').pluck().get(imageId) as number;
      return Number(insert.run(row(imageId, { ...draft, id: undefined }, next)).lastInsertRowid);
    },
    /** Removes objects; returns the images they belonged to. Call inside a transaction. */
    remove(ids: number[]): number[] {
      const images = new Set<number>();
      for (const id of ids) {
        const found = byId.get(id) as AnnotationRow | undefined;
        if (!found) continue;
        images.add(found.image_id);
        db.prepare('DELETE FROM annotations WHERE id = ?').run(id);
      }
      return [...images];
    },
  };
}

export type AnnotationRepository = ReturnType<typeof annotationRepository>;
