/**
 * WORKDIR creates its directory (and missing parents) as BuildKit's `Mkdir(wd, 0755, WithParents)` does, owned by
 * the current USER. The path is resolved inside the image first, symlinks followed as Docker's
 * `FollowSymlinkInScope` does: on a merged-/usr image `WORKDIR /lib/app` makes `usr/lib/app`, and `/var/run/app`
 * goes into `/run`, the link itself left alone. When the directory already exists there is nothing to add, but
 * BuildKit still commits the (empty) layer for any WORKDIR but `/`, and so does the executor: same layers, same
 * history.
 */
import { ContextTree } from '../../context';
import { BuildError } from '../../errors';
import type { CopyEntry } from './copy/plan-copy';
import type { StageFs } from '../stage-fs';

export function workdirEntries(
  resolved: string,
  fs: StageFs,
  owner: { uid: number; gid: number } | undefined,
  time: number,
): CopyEntry[] {
  const inImage = new ContextTree(fs.nodes()).resolve(resolved.replace(/^\/+/, ''), true);
  const parts = inImage.split('/').filter((p) => p !== '');
  if (parts.length === 0 || fs.get(parts.join('/'))?.type === 'dir') return [];
  const entries: CopyEntry[] = [];
  for (let i = 1; i <= parts.length; i++) {
    const p = parts.slice(0, i).join('/');
    const existing = fs.get(p);
    if (existing !== undefined && existing.type !== 'dir') {
      throw new BuildError(`WORKDIR ${resolved}: /${p} exists and is not a directory`);
    }
    if (existing?.type === 'dir') {
      // An existing parent appears in the diff with its own metadata, as the directory changed.
      entries.push({
        path: p,
        type: 'dir',
        mode: existing.mode,
        uid: existing.uid,
        gid: existing.gid,
        mtime: time,
        size: 0,
      });
    } else {
      const o = owner ?? { uid: 0, gid: 0 };
      entries.push({ path: p, type: 'dir', mode: 0o755, uid: o.uid, gid: o.gid, mtime: time, size: 0 });
    }
  }
  return entries;
}
