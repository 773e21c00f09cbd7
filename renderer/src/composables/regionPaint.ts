/**
 * How a proposed region (a search hit, a discovered object, the editor's proposal layer) is drawn: a light fill of
 * the class colour and a double outline, white inside the edge and black outside it. The class colour alone (the
 * old overlay, ~60% opacity) vanished on objects of the same colour (a crimson class on the sample's red and pink
 * circles); one of the two outline colours contrasts with any object and any background.
 */
import type { Mask } from '../../../core/mask';

export type Rgb = [number, number, number];

export function hexRgb(hex: string): Rgb {
  const value = Number.parseInt(hex.slice(1), 16);
  return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}

/** Fill opacity (0..255): light enough to see the object's own colour and texture under it. */
const fillAlpha = 70;

/**
 * RGBA pixels (width x height) of `region`, a 0/1 grid of any size covering the same area (sampled bilinearly, so
 * a coarse grid's staircase is smoothed); `line` = width of each outline in pixels.
 */
export function paintRegion(region: Mask, width: number, height: number, color: Rgb, line: number): Uint8ClampedArray<ArrayBuffer> {
  const inside = sampleRegion(region, width, height);
  const radius = Math.max(1, Math.round(line));
  const grown = boxFilter(inside, width, height, radius, 1);
  const shrunk = boxFilter(inside, width, height, radius, 0);
  const pixels = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < inside.length; i++) {
    const at = i * 4;
    if (inside[i] && !shrunk[i]) pixels.set([255, 255, 255, 255], at);
    else if (inside[i]) pixels.set([color[0], color[1], color[2], fillAlpha], at);
    else if (grown[i]) pixels.set([0, 0, 0, 235], at);
  }
  return pixels;
}

/** The region at width x height: bilinear weight of the grid at each pixel centre, >= 0.5 is inside. */
function sampleRegion(region: Mask, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  if (region.width === width && region.height === height) {
    for (let i = 0; i < out.length; i++) out[i] = region.data[i] ? 1 : 0;
    return out;
  }
  const at = (x: number, y: number) => region.data[Math.min(region.height - 1, Math.max(0, y)) * region.width + Math.min(region.width - 1, Math.max(0, x))];
  for (let y = 0; y < height; y++) {
    const gy = ((y + 0.5) * region.height) / height - 0.5, y0 = Math.floor(gy), fy = gy - y0;
    for (let x = 0; x < width; x++) {
      const gx = ((x + 0.5) * region.width) / width - 0.5, x0 = Math.floor(gx), fx = gx - x0;
      const top = at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx, bottom = at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx;
      out[y * width + x] = top * (1 - fy) + bottom * fy >= 0.5 ? 1 : 0;
    }
  }
  return out;
}

/** Square max (grow, keep = 1) or min (shrink, keep = 0) filter of the given radius; outside the area counts as 0. */
function boxFilter(values: Uint8Array, width: number, height: number, radius: number, keep: 0 | 1): Uint8Array {
  const pass = (source: Uint8Array, along: 'x' | 'y') => {
    const out = new Uint8Array(source.length);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let result = keep ? 0 : 1;
        for (let d = -radius; d <= radius; d++) {
          const xx = along === 'x' ? x + d : x, yy = along === 'y' ? y + d : y;
          const value = xx < 0 || yy < 0 || xx >= width || yy >= height ? 0 : source[yy * width + xx];
          if (value === keep) {
            result = keep;
            break;
          }
        }
        out[y * width + x] = result;
      }
    }
    return out;
  };
  return pass(pass(values, 'x'), 'y');
}
