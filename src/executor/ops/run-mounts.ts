/**
 * RUN --mount as the sandbox takes it: each planner mount turned into host sources and contents.
 *
 * - `bind`: a path inside a stage's rootfs (resolved inside it, never through a symlink out of it), read-only
 *   unless `rw`; an `rw` bind gets a throwaway overlay (or copy) on top, so the command may write but the stage
 *   stays as it is, and the writes go nowhere (as in BuildKit). Without `from=`, a copy of that part of the build
 *   context made for the run (after .dockerignore, see `context-mount.ts`).
 * - `cache`: a persistent directory (`cache-mounts.ts`), filled from an imported cache when it is first made.
 * - `tmpfs`: as is.
 * - `secret`: the value from the build's secrets, as a read-only file and/or an environment variable; never in
 *   the rootfs, so never in a layer. A missing secret fails the step only when `required`.
 * - `ssh`: not supported yet (fails when `required`, else skipped with a warning).
 */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { BuildError } from '../../errors';
import { mountOverlay, OverlayUnavailableError, type MountedOverlay } from '../../layers/overlay';
import type { MountSource, RunMount } from '../../planner/types';
import { acquireCacheDir, type CacheDir, type CacheMountRestorer } from '../sandbox/cache-mounts';
import { resolveInRoot } from '../sandbox/rootfs-path';
import type { SandboxMount } from '../sandbox/types';

const execFileAsync = promisify(execFile);

export interface MountSources {
  /** tsbuild's root (for cache mounts). */
  root: string;
  /** Writes what a bind mount of `source` in the build context shows (after .dockerignore) to `dest`. */
  contextMount: (source: string, dest: string) => Promise<void>;
  /** The root filesystem directory of a stage or image named by `from=`. */
  sourceDir: (from: MountSource) => Promise<string>;
  /** Secret id → value (`--secret id=…,src=…|env=…`, read by the caller). */
  secrets: ReadonlyMap<string, Buffer>;
  /** A host directory for throwaway layers over `rw` binds; removed by the caller after the run. */
  scratch: string;
  /** The imported content for a cache id, used only when that cache is first created and has no `from=`. */
  restoreCacheMount?: CacheMountRestorer;
}

export interface ResolvedMounts {
  mounts: SandboxMount[];
  /** `KEY=value` entries for secrets with `env=`. */
  env: string[];
  warnings: string[];
  /** Unmount the rw-bind overlays and give cache directories back; call after the command ended. */
  release(): Promise<void>;
}

export async function resolveRunMounts(
  runMounts: readonly RunMount[],
  src: MountSources,
): Promise<ResolvedMounts> {
  const mounts: SandboxMount[] = [];
  const env: string[] = [];
  const warnings: string[] = [];
  const caches: CacheDir[] = [];
  const overlays: MountedOverlay[] = [];
  const release = async (): Promise<void> => {
    for (const o of overlays.splice(0).reverse()) await o.unmount();
    for (const c of caches.splice(0)) await c.release();
  };
  try {
    let n = 0;
    for (const m of runMounts) {
      switch (m.type) {
        case 'bind': {
          if (m.from === undefined) {
            // A copy made for this run: writes to an `rw` one go nowhere, as in BuildKit.
            const copy = path.join(src.scratch, `context-${n++}`);
            await fsp.mkdir(src.scratch, { recursive: true, mode: 0o700 });
            await src.contextMount(m.source, copy);
            mounts.push({ type: 'bind', source: copy, target: m.target, readOnly: m.readOnly });
            break;
          }
          const host = await sourcePath(src, m.from, m.source);
          if (m.readOnly) {
            mounts.push({ type: 'bind', source: host, target: m.target, readOnly: true });
          } else {
            const scratch = path.join(src.scratch, `bind-${n++}`);
            mounts.push({
              type: 'bind',
              source: await throwaway(host, scratch, overlays),
              target: m.target,
              readOnly: false,
            });
          }
          break;
        }
        case 'cache': {
          const seed = m.from !== undefined ? await sourcePath(src, m.from, m.source) : undefined;
          // `from=` says what a new cache holds; an imported archive of it would contradict that.
          const restore = seed === undefined ? src.restoreCacheMount?.(m.id) : undefined;
          const cache = await acquireCacheDir(src.root, {
            id: m.id,
            sharing: m.sharing,
            ...(m.mode !== undefined ? { mode: m.mode } : {}),
            ...(m.uid !== undefined ? { uid: m.uid } : {}),
            ...(m.gid !== undefined ? { gid: m.gid } : {}),
            ...(seed !== undefined ? { seed } : {}),
            ...(restore !== undefined ? { restore } : {}),
          });
          caches.push(cache);
          if (cache.warning !== undefined) warnings.push(cache.warning);
          mounts.push({
            type: 'bind',
            source: cache.dir,
            target: m.target,
            readOnly: m.readOnly,
            owned: true,
          });
          break;
        }
        case 'tmpfs':
          mounts.push({ type: 'tmpfs', target: m.target, ...(m.size !== undefined ? { size: m.size } : {}) });
          break;
        case 'secret': {
          const value = src.secrets.get(m.id);
          if (value === undefined) {
            if (m.required)
              throw new BuildError(`secret ${m.id} not found (pass it with --secret id=${m.id},src=FILE)`);
            continue;
          }
          if (m.target !== undefined) {
            mounts.push({
              type: 'file',
              target: m.target,
              content: value,
              mode: m.mode,
              uid: m.uid,
              gid: m.gid,
            });
          }
          if (m.env !== undefined) env.push(`${m.env}=${value.toString('utf8')}`);
          break;
        }
        case 'ssh':
          if (m.required) throw new BuildError('RUN --mount=type=ssh is not supported yet');
          warnings.push(`RUN --mount=type=ssh (id ${m.id}) is not supported yet; the mount is left out`);
          break;
      }
    }
  } catch (err) {
    await release();
    throw err;
  }
  return { mounts, env, warnings, release };
}

/** The host path of `source` inside the `from` rootfs; it must exist. */
async function sourcePath(src: MountSources, from: MountSource, source: string): Promise<string> {
  const r = await resolveInRoot(path.resolve(await src.sourceDir(from)), source === '' ? '/' : source);
  if (r.stat === undefined) throw new BuildError(`mount source ${source} does not exist in the mount source`);
  return r.hostPath;
}

/** A writable view of `host` whose writes are thrown away: an overlay on it, or a copy. */
async function throwaway(host: string, scratch: string, overlays: MountedOverlay[]): Promise<string> {
  await fsp.mkdir(scratch, { recursive: true, mode: 0o700 });
  const st = await fsp.stat(host);
  if (st.isDirectory()) {
    const upper = path.join(scratch, 'upper');
    const work = path.join(scratch, 'work');
    const merged = path.join(scratch, 'merged');
    for (const d of [upper, work, merged]) await fsp.mkdir(d);
    try {
      overlays.push(await mountOverlay({ lowers: [host], upper, work, target: merged, scratch }));
      return merged;
    } catch (err) {
      if (!(err instanceof OverlayUnavailableError)) throw err;
    }
  }
  const copy = path.join(scratch, 'copy');
  await execFileAsync('cp', ['-a', '--no-dereference', '--', host, copy]);
  return copy;
}
