/**
 * `--chown` and USER values to numeric ids, as Docker documents: `uid[:gid]` or `name[:group]`, names looked up in
 * the stage's `/etc/passwd` and `/etc/group`; without a group, the gid is the same number as the uid.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { BlobStore } from '../cache/blob-store';
import type { LayerRecord } from '../cache/key-index';
import { BuildError } from '../errors';
import { materializeRootfs } from './rootfs';

export interface Owner {
  uid: number;
  gid: number;
}

const NUMERIC = /^\d+$/;

export async function resolveOwner(
  spec: string,
  stage: { layers: readonly LayerRecord[] },
  root: string,
  blobs: BlobStore,
): Promise<Owner> {
  const [user, group] = spec.split(':', 2);
  if (NUMERIC.test(user) && (group === undefined || NUMERIC.test(group))) {
    const uid = Number(user);
    return { uid, gid: group === undefined ? uid : Number(group) };
  }
  const rootfs = await materializeRootfs(root, blobs, stage.layers, 'stage');
  const uid = NUMERIC.test(user) ? Number(user) : await lookup(rootfs.root, 'passwd', user);
  const gid =
    group === undefined
      ? uid
      : NUMERIC.test(group)
        ? Number(group)
        : await lookup(rootfs.root, 'group', group);
  return { uid, gid };
}

async function lookup(rootDir: string, file: 'passwd' | 'group', name: string): Promise<number> {
  let text = '';
  try {
    text = await fsp.readFile(path.join(rootDir, 'etc', file), 'utf8');
  } catch {
    // no such file: no names can be resolved
  }
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name && fields.length > 2 && NUMERIC.test(fields[2])) return Number(fields[2]);
  }
  const what = file === 'passwd' ? 'user' : 'group';
  throw new BuildError(`unable to find ${what} ${name}: no matching entries in ${file} file`);
}
