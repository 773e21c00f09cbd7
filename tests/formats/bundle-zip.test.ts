/**
 * Unpacking hostile or damaged bundle zips: a bomb is refused quickly in bounded memory (measured in a child
 * process), a flipped byte fails its CRC-32, and 20,000 tiny entries open. Zips are built here byte by byte where
 * they must lie about themselves.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createDeflateRaw, crc32 } from 'node:zlib';
import { unzipSync, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Project } from '../../db/project';
import { exportBundle, openBundle } from '../../electron/formats/index';
import { createProject, populate, tempDir } from './fixture';

let work: ReturnType<typeof tempDir>;
let source: Project;
let goodBundle: string;

beforeAll(async () => {
  work = tempDir('pixelwise-bundle-zip-');
  source = createProject(join(work.dir, 'source'), 'p.pixelwise');
  await populate(source, join(work.dir, 'source', 'images'));
  goodBundle = join(work.dir, 'good.zip');
  await exportBundle(source, goodBundle);
});

afterAll(() => {
  source?.close();
  work?.cleanup();
});

interface RawEntry {
  name: string;
  /** Bytes as stored in the zip (already deflated when method is 8). */
  data: Buffer;
  method: 0 | 8;
  crc: number;
  /** Inflated size the zip claims. */
  size: number;
}

/** A zip with exactly the given entries, sizes and CRCs, true or not. */
function writeZip(entries: RawEntry[]): Buffer {
  const parts: Buffer[] = [], directory: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x800, 6);
    local.writeUInt16LE(entry.method, 8);
    local.writeUInt32LE(entry.crc >>> 0, 14);
    local.writeUInt32LE(entry.data.length, 18);
    local.writeUInt32LE(entry.size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x800, 8);
    central.writeUInt16LE(entry.method, 10);
    central.writeUInt32LE(entry.crc >>> 0, 16);
    central.writeUInt32LE(entry.data.length, 20);
    central.writeUInt32LE(entry.size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    parts.push(local, name, entry.data);
    directory.push(central, name);
    offset += 30 + name.length + entry.data.length;
  }
  const directoryBytes = Buffer.concat(directory);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directoryBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, directoryBytes, end]);
}

/** Raw deflate of `mebibytes` MiB of zeros, made a chunk at a time (about 1 KB per MiB). */
async function deflatedZeros(mebibytes: number): Promise<Buffer> {
  const deflate = createDeflateRaw({ level: 9 });
  const out: Buffer[] = [];
  deflate.on('data', (chunk: Buffer) => out.push(chunk));
  const done = new Promise((resolveDone) => deflate.on('end', resolveDone));
  const zeros = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < mebibytes; i++) if (!deflate.write(zeros)) await new Promise((r) => deflate.once('drain', r));
  deflate.end();
  await done;
  return Buffer.concat(out);
}

const manifest = Buffer.from(JSON.stringify({ format: 'pixelwise-bundle', version: 1, project: 'p.pixelwise' }));
const manifestEntry: RawEntry = { name: 'manifest.json', data: manifest, method: 0, crc: crc32(manifest), size: manifest.length };

/** openBundle in a child process: its error message, wall time and how far its peak RSS rose while unpacking. */
function openInChild(zip: string, target: string): { error: string | null; ms: number; rssGrowthMb: number } {
  const script = join(work.dir, 'open-bundle.mts');
  writeFileSync(script, `
    import { openBundle } from ${JSON.stringify(resolve(__dirname, '../../electron/formats/bundle.ts'))};
    const before = process.resourceUsage().maxRSS;
    const started = Date.now();
    const error = await openBundle(process.argv[2], process.argv[3]).then(() => null, (e) => e.message);
    const ms = Date.now() - started;
    console.log(JSON.stringify({ error, ms, rssGrowthMb: (process.resourceUsage().maxRSS - before) / 1024 }));
  `);
  const child = spawnSync(process.execPath, ['--import', 'tsx', script, zip, target], { encoding: 'utf8', timeout: 60_000 });
  expect(child.status, child.stderr).toBe(0);
  return JSON.parse(child.stdout.trim().split('\n').pop()!);
}

describe('zip bombs', () => {
  it('an entry that inflates past its declared size is stopped at once, in bounded memory', async () => {
    const bomb = await deflatedZeros(512); // 512 MiB of zeros in about 0.5 MB, claiming to be 1,000 bytes
    const zip = join(work.dir, 'bomb.zip');
    writeFileSync(zip, writeZip([manifestEntry, { name: 'p.pixelwise', data: bomb, method: 8, crc: 0, size: 1000 }]));
    const target = join(work.dir, 'bomb-out');
    const result = openInChild(zip, target);
    expect(result.error).toMatch(/bomb\.zip: entry "p\.pixelwise" holds more than the 1000 bytes it declares/);
    expect(result.ms).toBeLessThan(5000);
    expect(result.rssGrowthMb).toBeLessThan(100); // fflate's Unzip inflated each 1 MB read whole: about 1 GB here
    expect(existsSync(target)).toBe(false);
  });

  it('declared sizes over the limits are refused before anything is written', async () => {
    const bomb = await deflatedZeros(256);
    const zip = join(work.dir, 'honest-bomb.zip');
    writeFileSync(zip, writeZip([manifestEntry, { name: 'images/big.jpg', data: bomb, method: 8, crc: 0, size: 256 * 1024 * 1024 }]));
    const target = join(work.dir, 'honest-out');
    await expect(openBundle(zip, target, { maxImageBytes: 64 * 1024 * 1024 })).rejects.toThrow(/entry "images\/big\.jpg" is larger than the 64\.0 MiB limit/);
    await expect(openBundle(zip, target, { maxTotalBytes: 100 * 1024 * 1024 })).rejects.toThrow(/unpacks to more than the 100\.0 MiB limit/);
    expect(existsSync(target)).toBe(false);
  });

  it('overlapping entries (one compressed stream counted many times) are refused', () => {
    const data = Buffer.from('x'.repeat(100));
    const zip = writeZip([manifestEntry, { name: 'p.pixelwise', data, method: 0, crc: crc32(data), size: 100 }]);
    // A second directory record pointing at the first entry's header under another name.
    const endAt = zip.length - 22;
    const directoryAt = zip.readUInt32LE(endAt + 16), directoryLength = zip.readUInt32LE(endAt + 12);
    const records = zip.subarray(directoryAt, directoryAt + directoryLength);
    const second = Buffer.from(records.subarray(records.length - (46 + 'p.pixelwise'.length)));
    second.write('q', 46);
    const end = Buffer.from(zip.subarray(endAt));
    end.writeUInt16LE(3, 8);
    end.writeUInt16LE(3, 10);
    end.writeUInt32LE(directoryLength + second.length, 12);
    const file = join(work.dir, 'overlap.zip');
    writeFileSync(file, Buffer.concat([zip.subarray(0, endAt), second, end]));
    return expect(openBundle(file, join(work.dir, 'overlap-out'))).rejects.toThrow(/overlap\.zip: entry "q\.pixelwise" overlaps the entry before it/);
  });
});

describe('damaged and unusual bundles', () => {
  it('a byte flipped inside a stored image fails its CRC-32 and nothing is left behind', async () => {
    const bytes = readFileSync(goodBundle);
    const name = Buffer.from('images/street.png');
    const at = bytes.indexOf(Buffer.concat([name, Buffer.from([0x89, 0x50, 0x4e, 0x47])])); // local header name, then PNG data
    expect(at).toBeGreaterThan(0);
    bytes[at + name.length + 200] ^= 0xff;
    const zip = join(work.dir, 'flipped.zip');
    writeFileSync(zip, bytes);
    const target = join(work.dir, 'flipped-out');
    await expect(openBundle(zip, target)).rejects.toThrow(/flipped\.zip: entry "images\/street\.png" is damaged: its checksum does not match/);
    expect(existsSync(target)).toBe(false);
  });

  it('entries over 1 MiB stream through, stored or deflated, and arrive intact', async () => {
    const entries = unzipSync(readFileSync(goodBundle));
    const noise = randomBytes(3 * 1024 * 1024);
    const text = Buffer.from('a line of a large text file\n'.repeat(200_000)); // 5.6 MB, deflates well
    const zip = join(work.dir, 'large.zip');
    writeFileSync(zip, zipSync({ ...entries, 'images/noise.png': [noise, { level: 0 }], 'images/text.png': [text, { level: 6 }] }));
    const target = join(work.dir, 'large-out');
    await openBundle(zip, target);
    expect(readFileSync(join(target, 'images', 'noise.png')).equals(noise)).toBe(true);
    expect(readFileSync(join(target, 'images', 'text.png')).equals(text)).toBe(true);

    const flipped = readFileSync(zip);
    flipped[flipped.indexOf(noise.subarray(0, 64)) + 2 * 1024 * 1024] ^= 0x01;
    writeFileSync(zip, flipped);
    await expect(openBundle(zip, join(work.dir, 'large-flipped'))).rejects.toThrow(/entry "images\/noise\.png" is damaged: its checksum does not match/);
  });

  it('a bundle with 20,000 tiny entries opens', async () => {
    const entries = unzipSync(readFileSync(goodBundle));
    for (let i = 0; i < 20_000; i++) entries[`images/t${i}.png`] = new Uint8Array([i & 255]);
    const zip = join(work.dir, 'many.zip');
    writeFileSync(zip, zipSync(entries, { level: 0 }));
    const started = Date.now();
    const opened = await openBundle(zip, join(work.dir, 'many-out'));
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(opened.images).toBe(3);
    expect(opened.missingImages).toEqual([]);
    expect(readFileSync(join(work.dir, 'many-out', 'images', 't19999.png'))).toEqual(Buffer.from([19_999 & 255]));
  });

  it('a write that fails while unpacking says why in words and leaves nothing behind', () => {
    // The child may write files of at most 8 KiB (SIGXFSZ ignored, so a longer write fails with EFBIG, as a full
    // disk fails with ENOSPC); the bundle's project file is larger.
    expect(unzipSync(readFileSync(goodBundle))['p.pixelwise'].length).toBeGreaterThan(8 * 1024);
    const target = join(work.dir, 'limited-out');
    const script = join(work.dir, 'open-limited.mts');
    writeFileSync(script, `
      import { openBundle } from ${JSON.stringify(resolve(__dirname, '../../electron/formats/bundle.ts'))};
      console.log(JSON.stringify({ error: await openBundle(process.argv[2], process.argv[3]).then(() => null, (e) => e.message) }));
    `);
    const child = spawnSync('bash', ['-c', `trap '' XFSZ; ulimit -f 8; exec "${process.execPath}" --import tsx "$@"`, 'open', script, goodBundle, target], {
      encoding: 'utf8', timeout: 60_000, env: { ...process.env, TSX_DISABLE_CACHE: '1' },
    });
    expect(child.status, child.stderr).toBe(0);
    const { error } = JSON.parse(child.stdout.trim().split('\n').pop()!);
    expect(error).toBe(`${target}: cannot hold the unpacked bundle: the file is larger than this system allows`);
    expect(existsSync(target)).toBe(false);
  });

  it('a folder given as the bundle is refused in words', async () => {
    await expect(openBundle(join(work.dir, 'source'), join(work.dir, 'folder-out'))).rejects.toThrow(/^source: is a folder; choose the bundle's \.zip file$/);
    expect(existsSync(join(work.dir, 'folder-out'))).toBe(false);
  });

  it('more entries than the limit are refused with the limit named', async () => {
    await expect(openBundle(goodBundle, join(work.dir, 'few-out'), { maxEntries: 3 })).rejects.toThrow(/holds 5 entries, over the limit of 3/);
  });
});
