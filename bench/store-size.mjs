// How much disk a tsbuild store takes against what it holds (issue 12: one copy of each layer). Read from the
// outside, as a user with `du` would: the store's bytes on disk (hard links counted once), and the sum of the
// uncompressed sizes of the distinct layers its cache records and images name (a compressed blob is decompressed
// to count it; a layer stored uncompressed is its blob's size; a pulled layer whose compressed blob the store dropped
// once it was unpacked is counted as `tar c` of its snapshot, as a user would measure it).
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';

const UNCOMPRESSED = /\.tar$/;

/** { diskBytes, layers, layerBytes, unknown }: `unknown` counts layers whose bytes are nowhere in the store. */
export async function storeFootprint(root) {
  const du = spawnSync('du', ['-s', '--block-size=1', root], { encoding: 'utf8' });
  if (du.status !== 0) throw new Error(`du ${root}: ${du.stderr.trim()}`);
  const diskBytes = Number(du.stdout.split(/\s/)[0]);
  const layers = new Map(); // diffId → descriptor
  for (const name of await readdirOr(path.join(root, 'index'))) {
    const record = await readJson(path.join(root, 'index', name));
    if (record?.layer) layers.set(record.layer.diffId, record.layer);
  }
  const images = await readJson(path.join(root, 'images', 'index.json'));
  for (const m of images?.manifests ?? []) {
    const manifest = await readJson(blobPath(root, m.digest));
    const config = manifest?.config && (await readJson(blobPath(root, manifest.config.digest)));
    (manifest?.layers ?? []).forEach((l, i) => {
      const diffId = config?.rootfs?.diff_ids?.[i];
      if (diffId && !layers.has(diffId)) layers.set(diffId, l);
    });
  }
  let layerBytes = 0;
  let unknown = 0;
  for (const [diffId, l] of layers) {
    const size = uncompressedSize(root, l, diffId);
    if (size === null) unknown++;
    else layerBytes += size;
  }
  return { diskBytes, layers: layers.size, layerBytes, unknown };
}

function uncompressedSize(root, layer, diffId) {
  if (UNCOMPRESSED.test(layer.mediaType)) return layer.size;
  const blob = blobPath(root, layer.digest);
  if (!existsSync(blob)) return snapshotTarSize(root, diffId);
  const tool = /zstd/.test(layer.mediaType) ? 'zstd -dc' : 'gzip -dc';
  const r = spawnSync('sh', ['-c', `${tool} < "$1" | wc -c`, 'sh', blob], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.trim()) : null;
}

function snapshotTarSize(root, diffId) {
  const dir = diffId && path.join(root, 'snapshots', String(diffId).replace(/^sha256:/, ''));
  if (!dir || !existsSync(dir)) return null;
  const r = spawnSync('sh', ['-c', 'tar -C "$1" -cf - . | wc -c', 'sh', dir], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.trim()) : null;
}

function blobPath(root, digest) {
  return path.join(root, 'blobs', 'sha256', String(digest).replace(/^sha256:/, ''));
}

async function readdirOr(dir) {
  return fsp.readdir(dir).catch(() => []);
}

async function readJson(file) {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8'));
  } catch {
    return null;
  }
}
