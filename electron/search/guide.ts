/** The image's pixels for edge-aware masks (engine upsampling, region masks), read from the project's image file. */
import type { RgbImage } from '../../core/image';
import { resolveStoredPath } from '../../db/images';
import type { Project } from '../../db/project';
import { decodeImageFile } from '../embedding/image-io';

/** Null when the image is gone, its file unreadable, or not the size its embedding covers (edited since). */
export async function guideImage(project: Project, imageId: number, width: number, height: number): Promise<RgbImage | null> {
  const record = project.images.get(imageId);
  if (!record) return null;
  const image = await decodeImageFile(resolveStoredPath(project.dir, record.path)).catch(() => null);
  return image && image.width === width && image.height === height ? image : null;
}
