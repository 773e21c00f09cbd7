/** Small files that stand for huge ones, for the resource-bomb tests. */
import { constants, crc32, deflateSync } from 'node:zlib';

function chunk(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])) >>> 0, 0);
  return Buffer.concat([head, body, crc]);
}

/**
 * A blank PNG of any size in a few kilobytes: 8-bit palette (`palette`, for VOC labels) or 1-bit grey (a photo
 * that sharp reads the size of without decoding it).
 */
export function blankPng(width: number, height: number, palette = false): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = palette ? 8 : 1;
  header[9] = palette ? 3 : 0;
  const rows = Buffer.alloc((1 + (palette ? width : Math.ceil(width / 8))) * height);
  const chunks = [chunk('IHDR', header)];
  if (palette) chunks.push(chunk('PLTE', Buffer.from([0, 0, 0, 128, 0, 0])));
  chunks.push(chunk('IDAT', deflateSync(rows, { level: constants.Z_BEST_COMPRESSION })), chunk('IEND', Buffer.alloc(0)));
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), ...chunks]);
}

/** The audit's generator: a ring alternating between (0, 0) and the far corner, `vertices` long. */
export function zigzag(vertices: number, far: number): number[] {
  const ring: number[] = [];
  for (let i = 0; i < vertices; i++) ring.push(...(i % 2 === 0 ? [0, 0] : [far, far - (i % 7)]));
  return ring;
}
