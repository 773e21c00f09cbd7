/**
 * The sample project a new user gets: generated images (made here, so there is no licence question) with
 * distinct objects on textured backgrounds, ready for a first click.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const palette = ['#d94f3d', '#3d8bd9', '#e8c547', '#4caf50', '#9c5bd9', '#f08a24', '#2bb3a6', '#e05297'];

/** One 800x600 SVG scene: gradient background, stripes, and a few objects (some repeated across images). */
export function sampleSvg(seed: number): string {
  const next = random(seed);
  const hue = Math.floor(next() * 360);
  const shapes: string[] = [];
  for (let i = 0; i < 4 + Math.floor(next() * 3); i++) {
    const x = 80 + next() * 640, y = 80 + next() * 440, size = 40 + next() * 90;
    const color = palette[Math.floor(next() * palette.length)];
    const kind = Math.floor(next() * 3);
    if (kind === 0) shapes.push(`<circle cx="${x}" cy="${y}" r="${size}" fill="${color}" stroke="#222" stroke-width="3"/>`);
    else if (kind === 1) shapes.push(`<rect x="${x - size}" y="${y - size * 0.7}" width="${size * 2}" height="${size * 1.4}" rx="12" fill="${color}"/>`);
    else shapes.push(`<polygon points="${x},${y - size} ${x + size},${y + size * 0.8} ${x - size},${y + size * 0.8}" fill="${color}"/>`);
  }
  // The "mug" recurs in every image: something for search and discovery to find.
  const mx = 120 + next() * 520, my = 120 + next() * 320, scale = 0.7 + next() * 0.6;
  shapes.push(`<g transform="translate(${mx} ${my}) scale(${scale})"><rect x="-40" y="-50" width="80" height="100" rx="8" fill="#f4f4f4" stroke="#555" stroke-width="4"/>
    <path d="M40 -25 q35 0 35 25 q0 25 -35 25" fill="none" stroke="#555" stroke-width="10"/><rect x="-30" y="-20" width="60" height="18" fill="#3d8bd9"/></g>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="800" height="600">
  <defs><linearGradient id="bg" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="hsl(${hue},35%,70%)"/><stop offset="1" stop-color="hsl(${(hue + 60) % 360},30%,40%)"/></linearGradient>
  <pattern id="stripes" width="24" height="24" patternUnits="userSpaceOnUse" patternTransform="rotate(${Math.floor(next() * 90)})"><rect width="12" height="24" fill="#000" opacity="0.06"/></pattern></defs>
  <rect width="800" height="600" fill="url(#bg)"/><rect width="800" height="600" fill="url(#stripes)"/>${shapes.join('')}</svg>`;
}

/** Writes the sample images (once) and returns their folder. */
export async function writeSampleImages(dir: string, count = 8): Promise<string> {
  const images = join(dir, 'images');
  mkdirSync(images, { recursive: true });
  for (let i = 0; i < count; i++) {
    const file = join(images, `sample-${String(i + 1).padStart(2, '0')}.jpg`);
    if (!existsSync(file)) await sharp(Buffer.from(sampleSvg(i + 1))).jpeg({ quality: 90 }).toFile(file);
  }
  return images;
}
