/**
 * Snapshots survive a power cut without a sync on the build's path. Syncing a new snapshot (`syncfs`) flushes the
 * whole filesystem, which on a machine that is writing elsewhere (a daemon, another build) took seconds per step;
 * BuildKit does not sync at all. A SIGKILL loses nothing that was written (the page cache still has it); only a
 * crash of the machine can, and only a restart tells the two apart. So:
 *
 * - before a snapshot is renamed into place, an empty note `unsynced/<boot id>/<hex>.<origin>` is made (its
 *   directory entry is journaled before the rename's, so a snapshot that survived a crash has its note too);
 * - in the boot that wrote it, a snapshot is whole for every reader, synced or not;
 * - a note from an earlier boot means "maybe torn": before a build uses any snapshot, those are checked. A
 *   committed snapshot (a RUN's layer) is kept when its tar still hashes to its diff_id; an unpacked one is dropped
 *   (its blob unpacks it again when needed). Either way the note goes;
 * - `cache check` syncs the store once and drops this boot's notes (`settleUnsyncedSnapshots`).
 *
 * Where the kernel names no boot, the snapshot is synced before its rename, as before.
 */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { readdirOrEmpty, removeTree } from '../store/atomic';
import type { Digest } from '../store/digest';
import { withFileLock } from '../store/file-lock';
import { currentBootId } from '../store/process';
import {
  snapshotDir,
  unsyncedNotePath,
  unsyncedNotesDir,
  type SnapshotOrigin,
} from '../store/snapshot-layers';
import { diffUpperDir } from './diff';
import { layerTarDiffId } from './diff-id';

const execFileAsync = promisify(execFile);

/** Verifying a large store after a restart can take a while; a second build waits for the first to finish it. */
const RECOVERY_LOCK_TIMEOUT_MS = 60 * 60 * 1000;

/**
 * Make `tree` (about to be renamed to the snapshot of `diffId`) safe to publish: note it as unsynced in this boot,
 * or sync it where no boot id is known.
 */
export async function prepareSnapshotPublish(
  root: string,
  diffId: Digest,
  origin: SnapshotOrigin,
  tree: string,
): Promise<void> {
  const boot = currentBootId();
  if (boot === undefined) {
    await execFileAsync('sync', ['-f', tree]).catch(() => undefined);
    return;
  }
  const note = unsyncedNotePath(root, boot, diffId, origin);
  await fsp.mkdir(path.dirname(note), { recursive: true });
  await (await fsp.open(note, 'w')).close();
}

export interface SnapshotRecovery {
  /** Snapshots of an earlier boot found whole (their tar hashes to their diff_id) and kept. */
  kept: number;
  /** Snapshots of an earlier boot that could not be trusted and were removed. */
  dropped: number;
}

/**
 * Check the snapshots an earlier boot left unsynced, once per restart: cheap (one readdir) when there are none.
 * Concurrent builds wait for the one doing it, so no build uses a snapshot that was not checked.
 */
export async function recoverUnsyncedSnapshots(root: string): Promise<SnapshotRecovery> {
  const result: SnapshotRecovery = { kept: 0, dropped: 0 };
  const boot = currentBootId();
  if (boot === undefined) return result;
  const dir = unsyncedNotesDir(root);
  const stale = (await readdirOrEmpty(dir)).filter((b) => b !== boot);
  if (stale.length === 0) return result;
  await withFileLock(
    path.join(root, 'locks', 'snapshot-recovery.lock'),
    async () => {
      for (const b of await readdirOrEmpty(dir)) {
        if (b === boot) continue;
        for (const note of await readdirOrEmpty(path.join(dir, b))) {
          const m = /^([0-9a-f]{64})\.(committed|unpacked)$/.exec(note);
          if (m) {
            const diffId: Digest = `sha256:${m[1]}`;
            if (await snapshotTrusted(root, diffId, m[2] === 'committed' ? 'committed' : 'unpacked'))
              result.kept++;
            else if (await removeSnapshot(root, diffId)) result.dropped++;
          }
          await fsp.rm(path.join(dir, b, note), { force: true });
        }
        await fsp.rm(path.join(dir, b), { recursive: true, force: true });
      }
    },
    { timeoutMs: RECOVERY_LOCK_TIMEOUT_MS },
  );
  return result;
}

/** Flush the store's filesystem once, then forget this boot's notes: every snapshot made so far is on disk. */
export async function settleUnsyncedSnapshots(root: string): Promise<void> {
  const boot = currentBootId();
  if (boot === undefined) return;
  const mine = path.join(unsyncedNotesDir(root), boot);
  const notes = await readdirOrEmpty(mine);
  if (notes.length === 0) return;
  await execFileAsync('sync', ['-f', root]);
  for (const note of notes) await fsp.rm(path.join(mine, note), { force: true });
}

async function snapshotTrusted(root: string, diffId: Digest, origin: SnapshotOrigin): Promise<boolean> {
  return origin === 'committed' && snapshotHoldsLayer(root, diffId);
}

/**
 * Whether the snapshot of a layer that was committed as a snapshot (a RUN's or COPY's) still holds it: the tar
 * made of it hashes to its diff_id. False when it is gone or unreadable. (`cache check` asks it of every layer
 * kept only as its snapshot.)
 */
export async function snapshotHoldsLayer(root: string, diffId: Digest): Promise<boolean> {
  try {
    return (await layerTarDiffId(await diffUpperDir(snapshotDir(root, diffId)))).diffId === diffId;
  } catch {
    return false;
  }
}

/** Whether there was a snapshot to remove. */
function removeSnapshot(root: string, diffId: Digest): Promise<boolean> {
  return removeTree(root, snapshotDir(root, diffId));
}
