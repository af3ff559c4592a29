/**
 * A stage's or image's root filesystem as a read-only directory, for COPY --from, RUN --mount from=, user and
 * group lookups and `--output type=local`: the layers' snapshot dirs (shared with RUN, one per diff_id) stacked
 * by a read-only overlayfs mount, so nothing is unpacked beyond the snapshots themselves and nothing is copied.
 * The mounts live under `<root>/runs/<pid>-<random>/` (cleaned by the next build if this one is killed) and are
 * taken down by `release` at the end of the build.
 *
 * Where overlayfs cannot be mounted (not root), the chain of layers is unpacked once into
 * `<root>/snapshots/chain-<id>` instead (built in a temp dir and renamed into place, reused by later builds).
 * Either way each layer is checked against its diff_id as it is unpacked: an image whose config does not describe
 * its layers is refused, not read.
 */
import { pathExists } from '../store/fs-probe';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { isErrno } from '../store/atomic';
import type { BlobStore } from '../store/blob-store';
import { sha256Digest, digestHex } from '../store/digest';
import type { LayerRecord } from '../image/stored-image';
import { applyLayer } from '../layers/apply';
import { mountOverlay, OverlayUnavailableError, removeScratch, type MountedOverlay } from '../layers/overlay';
import { openRunsDir } from '../layers/runs-dir';
import { ensureSnapshots } from '../layers/snapshots';
import { sourceFromDirectory, type CopySourceFs } from './ops/copy/source-fs';

/** The read-only root filesystems one build looks into, each mounted once. */
export class RootfsViews {
  private readonly views = new Map<string, Promise<string>>();
  private readonly mounts: MountedOverlay[] = [];
  private scratch: Promise<string> | undefined;

  private overlayRefused: boolean;

  /** `mode` `copy` never mounts (what happens where overlayfs is refused; tests use it to reach that path). */
  constructor(
    private readonly root: string,
    private readonly blobs: BlobStore,
    mode: 'auto' | 'copy' = 'auto',
  ) {
    this.overlayRefused = mode === 'copy';
  }

  /** The root filesystem of `layers` (base first) as a directory nothing may write to. */
  directory(layers: readonly LayerRecord[]): Promise<string> {
    const chain = chainId(layers);
    let view = this.views.get(chain);
    if (view === undefined) {
      view = this.open(layers, chain);
      this.views.set(chain, view);
      // A failed view is not remembered: the next caller tries again and gets its own error.
      view.catch(() => this.views.delete(chain));
    }
    return view;
  }

  /**
   * The same, as a copy source (walked once per call: the caller keeps it for as long as it needs it), listing only
   * what the paths of `scope` reach when given.
   */
  async source(
    layers: readonly LayerRecord[],
    label: string,
    scope?: readonly string[],
  ): Promise<CopySourceFs> {
    return sourceFromDirectory(await this.directory(layers), label, scope);
  }

  /** Take every view down. The directories they gave are gone afterwards. */
  async release(): Promise<void> {
    const scratch = this.scratch;
    this.scratch = undefined;
    this.views.clear();
    for (const m of this.mounts.splice(0).reverse()) await m.unmount().catch(() => undefined);
    if (scratch !== undefined) await removeScratch(await scratch);
  }

  private async open(layers: readonly LayerRecord[], chain: string): Promise<string> {
    if (layers.length === 0 || !this.overlayRefused) {
      const lowers = await ensureSnapshots(this.root, this.blobs, layers);
      const target = path.join(await this.scratchDir(), `view-${chain.slice(0, 16)}`);
      await fsp.mkdir(target, { recursive: true, mode: 0o755 });
      if (layers.length === 0) return target; // scratch: an empty root
      const scratch = path.dirname(target);
      if (lowers.length === 1) {
        // overlayfs wants two lower dirs for a read-only mount; a bind mount would show a lone layer's whiteouts
        // as devices, so an empty dir goes under it.
        const empty = path.join(scratch, 'empty');
        await fsp.mkdir(empty, { recursive: true, mode: 0o755 });
        lowers.unshift(empty);
      }
      try {
        this.mounts.push(await mountOverlay({ lowers, target, scratch }));
        return target;
      } catch (err) {
        if (!(err instanceof OverlayUnavailableError)) throw err;
        this.overlayRefused = true;
      }
    }
    return unpackChain(this.root, this.blobs, layers, chain);
  }

  private scratchDir(): Promise<string> {
    this.scratch ??= (async () => {
      const runs = await openRunsDir(this.root);
      const dir = path.join(runs, `${process.pid}-${randomBytes(6).toString('hex')}`);
      await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
      return dir;
    })();
    return this.scratch;
  }
}

function chainId(layers: readonly LayerRecord[]): string {
  return digestHex(sha256Digest(layers.map((l) => l.diffId).join('\n')));
}

const chainsInFlight = new Map<string, Promise<string>>();

/** Without overlayfs: the layers applied one over the other into `snapshots/chain-<id>`, once per machine. */
function unpackChain(
  root: string,
  blobs: BlobStore,
  layers: readonly LayerRecord[],
  chain: string,
): Promise<string> {
  let dir = chainsInFlight.get(chain);
  if (dir === undefined) {
    dir = unpackChainOnce(root, blobs, layers, chain).finally(() => chainsInFlight.delete(chain));
    chainsInFlight.set(chain, dir);
  }
  return dir;
}

async function unpackChainOnce(
  root: string,
  blobs: BlobStore,
  layers: readonly LayerRecord[],
  chain: string,
): Promise<string> {
  const final = path.join(root, 'snapshots', `chain-${chain}`);
  if (await pathExists(final)) return final;
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
    if (isErrno(err, 'ENOTEMPTY', 'EEXIST') && (await pathExists(final))) return final;
    throw err;
  }
  return final;
}
