/**
 * `--chown` and USER values to numeric ids, as Docker documents: `uid[:gid]` or `name[:group]`, names looked up in
 * the stage's `/etc/passwd` and `/etc/group`; without a group, the gid is the same number as the uid. The files are
 * read from a read-only view of the stage's layers, confined to that root filesystem.
 */
import type { LayerRecord } from '../../cache/key-index';
import { BuildError } from '../../errors';
import type { RootfsViews } from '../rootfs';
import { MAX_ACCOUNT_FILE_BYTES, readRootfsFile } from '../sandbox/rootfs-path';

export interface Owner {
  uid: number;
  gid: number;
}

const NUMERIC = /^\d+$/;

export async function resolveOwner(
  spec: string,
  stage: { layers: readonly LayerRecord[] },
  views: RootfsViews,
): Promise<Owner> {
  const [user, group] = spec.split(':', 2);
  if (NUMERIC.test(user) && (group === undefined || NUMERIC.test(group))) {
    const uid = Number(user);
    return { uid, gid: group === undefined ? uid : Number(group) };
  }
  const rootDir = await views.directory(stage.layers);
  const uid = NUMERIC.test(user) ? Number(user) : await lookup(rootDir, 'passwd', user);
  const gid =
    group === undefined ? uid : NUMERIC.test(group) ? Number(group) : await lookup(rootDir, 'group', group);
  return { uid, gid };
}

async function lookup(rootDir: string, file: 'passwd' | 'group', name: string): Promise<number> {
  // No such file: no names can be resolved.
  const text = (await readRootfsFile(rootDir, `/etc/${file}`, MAX_ACCOUNT_FILE_BYTES)) ?? '';
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name && fields.length > 2 && NUMERIC.test(fields[2])) return Number(fields[2]);
  }
  const what = file === 'passwd' ? 'user' : 'group';
  throw new BuildError(`unable to find ${what} ${name}: no matching entries in ${file} file`);
}
