/**
 * A throwaway root filesystem for one command: the layers' snapshots (unpacked first where missing) as the lower
 * dirs of an overlay (or a copy where overlayfs cannot be mounted), in a dir of its own under the runs dir, taken
 * down and removed when `use` returns or throws; a killed process's is cleared by the next one to open the runs dir.
 * What a RUN step and `tsbuild run` run in.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import type { BlobStore } from '../store/blob-store';
import { prepareRunRootfs, removeScratch, type RootfsMode, type RunRootfs } from './overlay';
import { openRunsDir } from './runs-dir';
import { ensureSnapshots, type SnapshotLayer } from './snapshots';

export interface RunRootfsRequest {
  root: string;
  blobs: BlobStore;
  /** The layers, base first. */
  layers: readonly SnapshotLayer[];
  /** Default `auto` (overlay, else copy). */
  mode?: RootfsMode;
}

/** `use` gets the rootfs and the run's own scratch dir (`runDir`: for mounts, sandbox state; removed after). */
export async function withRunRootfs<T>(
  request: RunRootfsRequest,
  use: (rootfs: RunRootfs, runDir: string) => Promise<T>,
): Promise<T> {
  const runs = await openRunsDir(request.root);
  const lowers = await ensureSnapshots(request.root, request.blobs, request.layers);
  const runDir = path.join(runs, `${process.pid}-${randomBytes(6).toString('hex')}`);
  const rootfs = await prepareRunRootfs({
    lowers,
    scratch: path.join(runDir, 'rootfs'),
    mode: request.mode ?? 'auto',
  });
  try {
    return await use(rootfs, runDir);
  } finally {
    try {
      await rootfs.release();
    } finally {
      await removeScratch(runDir);
    }
  }
}
