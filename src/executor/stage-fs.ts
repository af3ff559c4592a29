/**
 * What a stage's root filesystem holds, as metadata only: path → type, mode, owner, link target. COPY needs it to
 * know whether a destination is an existing directory and to write existing parent directories into a new layer
 * with their real metadata (as a layer diff would). Built from layer listings, so no layer is unpacked for it.
 */
import type { TreeNode } from '../context';
import type { FsEntry, FsMeta } from '../layers/listing';

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE = '.wh..wh..opq';

export class StageFs {
  private constructor(private readonly entries: Map<string, FsMeta>) {}

  static empty(): StageFs {
    return new StageFs(new Map());
  }

  /** A new view with one more layer on top (whiteouts delete, opaque directories hide what was below). */
  withLayer(layer: readonly FsEntry[]): StageFs {
    const next = new Map(this.entries);
    for (const e of layer) {
      const slash = e.path.lastIndexOf('/');
      const dir = slash < 0 ? '' : e.path.slice(0, slash);
      const base = slash < 0 ? e.path : e.path.slice(slash + 1);
      if (base === OPAQUE) {
        removeBelow(next, dir);
      } else if (base.startsWith(WHITEOUT_PREFIX)) {
        const victim = (dir === '' ? '' : dir + '/') + base.slice(WHITEOUT_PREFIX.length);
        next.delete(victim);
        removeBelow(next, victim);
      }
    }
    for (const e of layer) {
      const base = e.path.slice(e.path.lastIndexOf('/') + 1);
      if (base.startsWith(WHITEOUT_PREFIX)) continue;
      const existing = next.get(e.path);
      // Replacing a directory by a non-directory removes everything below it.
      if (existing?.type === 'dir' && e.type !== 'dir') removeBelow(next, e.path);
      next.set(e.path, { type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, linkTarget: e.linkTarget });
    }
    return new StageFs(next);
  }

  get(path: string): FsMeta | undefined {
    return this.entries.get(path);
  }

  /** The nodes for path resolution (symlinks followed inside the root) with the context room's ContextTree. */
  nodes(): TreeNode[] {
    return [...this.entries].map(([path, m]) => ({
      path,
      type: m.type === 'hardlink' ? 'file' : m.type,
      linkTarget: m.type === 'symlink' ? m.linkTarget : undefined,
    }));
  }
}

function removeBelow(map: Map<string, FsMeta>, dir: string): void {
  const prefix = dir === '' ? '' : dir + '/';
  for (const key of [...map.keys()]) if (key.startsWith(prefix) && key !== dir) map.delete(key);
}
