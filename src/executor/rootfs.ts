/**
 * A stage's root filesystem unpacked on disk, for COPY --from and for user name lookups. Unpacked once per layer
 * chain into `<root>/snapshots/chain-<id>` (built in a temp dir and renamed into place, so a killed build leaves
 * either the whole tree or nothing) and reused by every later build. Each layer is checked against its diff_id
 * as it is applied: an image whose config does not describe its layers is refused, not copied from.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { isErrno } from '../cache/atomic';
import type { BlobStore } from '../cache/blob-store';
import { sha256Digest, digestHex } from '../cache/digest';
import type { LayerRecord } from '../cache/key-index';
import { applyLayer } from '../layers/apply';
import { sourceFromDirectory, type CopySourceFs } from './copy/source-fs';

const inFlight = new Map<string, Promise<string>>();

export async function materializeRootfs(
  root: string,
  blobs: BlobStore,
  layers: readonly LayerRecord[],
  label: string,
): Promise<CopySourceFs> {
  const chain = digestHex(sha256Digest(layers.map((l) => l.diffId).join('\n')));
  let dir = inFlight.get(chain);
  if (!dir) {
    dir = unpackChain(root, blobs, layers, chain);
    inFlight.set(chain, dir);
    // A failed unpack is not remembered: the next caller tries again and gets its own error.
    dir.catch(() => inFlight.delete(chain));
  }
  return sourceFromDirectory(await dir, label);
}

async function unpackChain(
  root: string,
  blobs: BlobStore,
  layers: readonly LayerRecord[],
  chain: string,
): Promise<string> {
  const final = path.join(root, 'snapshots', `chain-${chain}`);
  if (await exists(final)) return final;
  const tmp = path.join(
    root,
    'tmp',
    `rootfs-${chain.slice(0, 12)}-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  await fsp.mkdir(tmp, { recursive: true });
  try {
    for (const layer of layers) {
      await applyLayer(blobs.open(layer.digest), tmp, {
        verify: { diffId: layer.diffId, layer: layer.digest },
      });
    }
    await fsp.mkdir(path.dirname(final), { recursive: true });
    await fsp.rename(tmp, final);
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true });
    // Another build may have finished the same chain first; its tree is as good as ours.
    if (isErrno(err, 'ENOTEMPTY', 'EEXIST') && (await exists(final))) return final;
    throw err;
  }
  return final;
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.access(p);
    return true;
  } catch {
    return false;
  }
}
