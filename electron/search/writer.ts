/**
 * Writes the masks of accepted search hits and discovery members as annotations, one per image, in one
 * transaction, and leaves out any mask that an object already on its image covers: accepting a hit of an object
 * labelled before (by clicks, or by an earlier accept) must not annotate the same object twice.
 */
import type { AnnotationRecord } from '../../core/api/records';
import type { AcceptResult } from '../../core/api/search-contract';
import { type Mask, maskBbox, maskIou } from '../../core/mask';
import { decodeRle, encodeRle } from '../../core/rle';
import type { Project } from '../../db/project';

/** IoU with an existing annotation of the image from which a new mask counts as the same object. */
export const sameObjectIou = 0.8;

export interface ProposedAnnotation {
  imageId: number;
  mask: Mask;
  score: number;
}

/** An object of the image already covers the mask (IoU >= sameObjectIou): writing it would label the object twice. */
export function alreadyCovered(existing: Array<Pick<AnnotationRecord, 'bbox' | 'rle'>>, mask: Mask): boolean {
  const [x, y, width, height] = maskBbox(mask);
  return existing.some((annotation) => {
    // Disjoint boxes cannot overlap: only masks near this one are decoded.
    const [ex, ey, ew, eh] = annotation.bbox;
    if (ex >= x + width || x >= ex + ew || ey >= y + height || y >= ey + eh) return false;
    const other = decodeRle(annotation.rle);
    return other.width === mask.width && other.height === mask.height && maskIou(other, mask) >= sameObjectIou;
  });
}

export function writeAnnotations(project: Project, proposed: ProposedAnnotation[], classId: number | null, source: 'search' | 'discovery'): AcceptResult {
  if (classId !== null) project.classes.get(classId);
  return project.transaction(() => {
    const result: AcceptResult = { annotationIds: [], imageIds: [], alreadyLabelled: [] };
    const seen = new Set<number>();
    for (const { imageId, mask, score } of proposed) {
      if (seen.has(imageId)) continue;
      seen.add(imageId);
      if (alreadyCovered(project.annotations.list(imageId), mask)) {
        result.alreadyLabelled.push(imageId);
        continue;
      }
      result.annotationIds.push(project.annotations.add(imageId, { classId, rle: encodeRle(mask), score, source }));
      result.imageIds.push(imageId);
      project.images.refreshStatus(imageId);
    }
    return result;
  });
}
