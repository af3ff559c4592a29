/**
 * The root filesystem a RUN step writes into, and the change it made.
 *
 * Normally an overlayfs mount: the parent snapshots as lower dirs, a fresh upper and work dir; after the command
 * the mount is taken down and the upper dir is the diff. The mount options are fixed so that the upper dir holds
 * the whole change: `redirect_dir=off` (a renamed directory is copied, not recorded as a pointer into a lower
 * dir), `metacopy=off` (a chown copies the data too), `index=off`; and `volatile`, so that taking the mount down
 * does not sync the store's filesystem.
 *
 * Deep images: the kernel takes one page of mount options, which ~40 long snapshot paths fill. The lower dirs
 * are named through a directory of one- to three-character symlinks (`l/0`, `l/1` …) and `mount` runs with that
 * directory as its working directory, so each lower costs a few bytes. overlayfs also stacks at most 500 lower
 * dirs: beyond that the bottom layers are merged first, into a read-only overlay of their own when they fit one
 * (the bottom group has nothing below it, so its opaque markers need not be seen through it), else into a copied
 * directory.
 *
 * Where overlayfs cannot be mounted (not root, an upper dir on a filesystem overlayfs refuses, no overlay
 * support), `auto` falls back to a copy: the lower dirs merged into a plain directory, recorded before the run and
 * compared after it (`diff.ts`), giving the same entries, only slower.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { isErrno } from '../store/atomic';
import { processAlive } from '../store/process';
import { BuildError } from '../errors';
import { diffAgainstBaseline, diffUpperDir, recordBaseline } from './diff';
import { mergeLowers } from './rootfs-copy';
import { inUserNamespace } from './user-namespace';
import type { LayerEntry } from './tar-writer';

const execFileAsync = promisify(execFile);

/** overlayfs' own limit on lower dirs in one mount (OVL_MAX_STACK). */
export const MAX_OVERLAY_LOWERS = 500;
/** The mount option page, less room for upperdir/workdir and the fixed options. */
const MAX_LOWERDIR_OPTION = 4096 - 512;

export type RootfsMode = 'auto' | 'overlay' | 'copy';

export interface RunRootfsOptions {
  /** Snapshot dirs of the parent layers, base first (image order). May be empty (`FROM scratch`). */
  lowers: readonly string[];
  /** An empty (or missing) directory for the upper, work and merged dirs; removed by `release`. */
  scratch: string;
  /** `auto` (default): overlay, else copy. */
  mode?: RootfsMode;
  /** At most this many lower dirs per overlay mount (tests use small numbers); default 500. */
  maxLowersPerMount?: number;
}

export interface RunRootfs {
  /** `overlay`, or `copy` when overlayfs could not be used. */
  readonly mode: 'overlay' | 'copy';
  /** The root filesystem to run the command in. */
  readonly path: string;
  /** Why overlay was not used (for a warning), when `mode` is `copy` under `auto`. */
  readonly fallbackReason?: string;
  /**
   * The change, as layer entries, once the command has finished: unmounts an overlay first (nothing may run in
   * the rootfs any more). File entries read from the scratch dir, so write the layer before `release`.
   */
  diff(): Promise<LayerEntry[]>;
  /**
   * The overlay upper dir once `diff` has run: the change itself, in snapshot format, so that it can become the
   * layer's snapshot instead of being unpacked again from the blob. Undefined for a copied rootfs (its tree is the
   * whole filesystem, not the change).
   */
  readonly upperDir: string | undefined;
  /** Unmount whatever is still mounted and remove the scratch dir. Safe to call more than once. */
  release(): Promise<void>;
}

export async function prepareRunRootfs(options: RunRootfsOptions): Promise<RunRootfs> {
  const mode = options.mode ?? 'auto';
  await fsp.mkdir(options.scratch, { recursive: true, mode: 0o700 });
  if (mode === 'copy') return copyRootfs(options);
  try {
    return await overlayRootfs(options);
  } catch (err) {
    if (mode === 'overlay' || !(err instanceof OverlayUnavailableError)) {
      await removeScratch(options.scratch);
      throw err;
    }
    await removeScratch(options.scratch);
    await fsp.mkdir(options.scratch, { recursive: true, mode: 0o700 });
    return copyRootfs(options, err.message);
  }
}

/** overlayfs cannot be mounted here (as opposed to a mount that should have worked and failed). */
export class OverlayUnavailableError extends BuildError {}

async function overlayRootfs(options: RunRootfsOptions): Promise<RunRootfs> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new OverlayUnavailableError('mounting overlayfs needs root');
  }
  const { scratch } = options;
  const upper = path.join(scratch, 'upper');
  const work = path.join(scratch, 'work');
  const merged = path.join(scratch, 'merged');
  for (const d of [upper, work, merged]) await fsp.mkdir(d, { mode: 0o755 });
  await fsp.chmod(upper, 0o755); // the merged root takes the upper root's mode
  const mount = await mountOverlay({
    lowers: options.lowers,
    upper,
    work,
    target: merged,
    scratch,
    maxLowersPerMount: options.maxLowersPerMount,
  });
  let released = false;
  let diffed = false;
  return {
    mode: 'overlay',
    path: merged,
    get upperDir() {
      return diffed && !released ? upper : undefined;
    },
    async diff() {
      diffed = true;
      await mount.unmount();
      return diffUpperDir(upper, { lowers: options.lowers });
    },
    async release() {
      if (released) return;
      released = true;
      await mount.unmount();
      await removeScratch(scratch);
    },
  };
}

async function copyRootfs(options: RunRootfsOptions, fallbackReason?: string): Promise<RunRootfs> {
  const merged = path.join(options.scratch, 'rootfs');
  await fsp.mkdir(merged, { mode: 0o755 });
  const sources = await mergeLowers(options.lowers, merged);
  const baseline = await recordBaseline(merged, (rel) => sources.get(rel));
  let released = false;
  return {
    mode: 'copy',
    path: merged,
    upperDir: undefined,
    ...(fallbackReason !== undefined ? { fallbackReason } : {}),
    diff: () => diffAgainstBaseline(merged, baseline),
    async release() {
      if (released) return;
      released = true;
      await removeScratch(options.scratch);
    },
  };
}

export interface MountOverlayOptions {
  /** Lower dirs, base first. */
  lowers: readonly string[];
  /** Upper and work dir (same filesystem); both omitted for a read-only mount. */
  upper?: string;
  work?: string;
  /** The mount point. */
  target: string;
  /** A directory this mount may put its helpers in (short links, group mounts); kept until unmounted. */
  scratch: string;
  maxLowersPerMount?: number;
}

export interface MountedOverlay {
  readonly target: string;
  /** Unmount (and unmount any helper mounts). Safe to call more than once. */
  unmount(): Promise<void>;
}

/** Mount overlayfs at `target`. Throws `OverlayUnavailableError` when the kernel refuses the mount. */
export async function mountOverlay(options: MountOverlayOptions): Promise<MountedOverlay> {
  const max = Math.min(options.maxLowersPerMount ?? MAX_OVERLAY_LOWERS, MAX_OVERLAY_LOWERS);
  if (max < 2) throw new Error('maxLowersPerMount must be at least 2');
  const helpers: MountedOverlay[] = [];
  const id = randomBytes(3).toString('hex');
  let lowers = [...options.lowers];
  try {
    if (lowers.length === 0) {
      // overlayfs needs a lower dir; an empty one stands for scratch.
      const empty = path.join(options.scratch, `empty-${id}`);
      await fsp.mkdir(empty, { mode: 0o755 });
      lowers = [empty];
    }
    const readOnly = options.upper === undefined;
    if (lowers.length > max) {
      // Merge the bottom layers (all but the top max-1) into one lower dir.
      const bottom = lowers.slice(0, lowers.length - (max - 1));
      const groupDir = path.join(options.scratch, `group-${id}`);
      await fsp.mkdir(groupDir, { mode: 0o755 });
      if (bottom.length <= max) {
        helpers.push(
          await mountOverlay({
            lowers: bottom,
            target: groupDir,
            scratch: options.scratch,
            maxLowersPerMount: max,
          }),
        );
      } else {
        // Too many even for a group: overlays may only be stacked two deep, so copy them into one tree.
        await mergeLowers(bottom, groupDir);
      }
      lowers = [groupDir, ...lowers.slice(lowers.length - (max - 1))];
    }
    if (readOnly && lowers.length === 1) {
      // A read-only overlay needs two lower dirs; one lower dir needs no overlay at all.
      await execTool('mount', ['--bind', '-o', 'ro', '--', lowers[0] as string, options.target]);
    } else {
      await mountWithShortNames(lowers, options, id);
    }
  } catch (err) {
    for (const h of helpers.reverse()) await h.unmount().catch(() => undefined);
    throw err;
  }
  let done = false;
  return {
    target: options.target,
    async unmount() {
      if (done) return;
      await unmountReliably(options.target);
      for (const h of [...helpers].reverse()) await h.unmount();
      done = true;
    },
  };
}

async function mountWithShortNames(
  lowers: string[],
  options: MountOverlayOptions,
  id: string,
): Promise<void> {
  const linkDir = path.join(options.scratch, `l-${id}`);
  await fsp.mkdir(linkDir, { mode: 0o700 });
  // Names in base-first order; the option lists them top first, as overlayfs wants.
  for (let i = 0; i < lowers.length; i++) {
    await fsp.symlink(path.resolve(lowers[i] as string), path.join(linkDir, i.toString(36)));
  }
  const names = lowers.map((_, i) => i.toString(36)).reverse();
  const lowerOpt = names.join(':');
  if (lowerOpt.length > MAX_LOWERDIR_OPTION)
    throw new BuildError(`too many lower dirs for one overlay mount`);
  const opts = [`lowerdir=${lowerOpt}`];
  if (options.upper !== undefined && options.work !== undefined) {
    opts.push(
      `upperdir=${path.relative(linkDir, options.upper)}`,
      `workdir=${path.relative(linkDir, options.work)}`,
    );
  }
  // Without these the upper dir could hold pointers into lower dirs instead of the change itself. In a user
  // namespace (a rootless build) the kernel refuses `redirect_dir=off` and takes `nofollow`, which creates no
  // redirects either.
  // There its own attributes (opaque directories) go under `user.overlay.` (`userxattr`, Linux 5.11): `trusted.` is
  // refused, and removing a lower directory would fail with EIO.
  const fixed = inUserNamespace()
    ? ['redirect_dir=nofollow', 'metacopy=off', 'index=off', 'userxattr']
    : ['redirect_dir=off', 'metacopy=off', 'index=off'];
  // `volatile` (Linux 5.10): no sync of the upper filesystem, above all none when the mount is taken down, which
  // flushed the whole filesystem after every RUN (0.2 s after one writing 120 MB). The upper dir is a build's
  // scratch until it becomes a snapshot, and snapshots are made safe against a power cut without a sync
  // (`snapshot-durability.ts`); the mount is never made again on the same work dir, which is all volatile forbids.
  const volatile = options.upper !== undefined ? ['volatile'] : [];
  const mount = (o: string[]): Promise<unknown> =>
    execTool('mount', ['-t', 'overlay', '-o', o.join(','), 'overlay', options.target], linkDir);
  try {
    await mount([...opts, ...fixed, ...volatile]).catch((err: unknown) => {
      if (volatile.length === 0 || !(err instanceof ToolError)) throw err;
      return mount([...opts, ...fixed]); // an older kernel: the same mount, synced on the way down
    });
  } catch (err) {
    // Kernels without these options have them off anyway (they came later than overlayfs itself).
    if (!(err instanceof ToolError) || !fixedOptionsUnknown()) throw unavailable(err);
    try {
      await mount(opts);
    } catch (err2) {
      throw unavailable(err2);
    }
  }
}

/** Whether this kernel's overlayfs lacks the redirect_dir/metacopy parameters altogether. */
function fixedOptionsUnknown(): boolean {
  try {
    readFileSync('/sys/module/overlay/parameters/redirect_dir');
    return false;
  } catch {
    return true;
  }
}

function unavailable(err: unknown): Error {
  if (err instanceof ToolError) return new OverlayUnavailableError(`cannot mount overlayfs: ${err.message}`);
  return err as Error;
}

/** umount; while busy, retry for a while, then detach lazily so a stuck mount cannot wedge the build. */
export async function unmountReliably(target: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    if (!isMountPoint(target)) return;
    try {
      await execTool('umount', ['--', target]);
      return;
    } catch (err) {
      if (!isMountPoint(target)) return;
      if (attempt >= 20) {
        await execTool('umount', ['--lazy', '--', target]);
        return;
      }
      if (!(err instanceof ToolError)) throw err;
      await new Promise((r) => setTimeout(r, 50 * Math.min(attempt + 1, 5)));
    }
  }
}

/** Mount points of this process's mount namespace, decoded from /proc/self/mountinfo. */
export function mountPoints(): string[] {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (fields.length > 4) out.push(unescapeMountinfo(fields[4] as string));
  }
  return out;
}

function isMountPoint(target: string): boolean {
  const abs = path.resolve(target);
  return mountPoints().includes(abs);
}

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * Clean up after builds that died: under `runsDir`, each run dir is `<pid>-<random>`; for those whose process is
 * gone, unmount whatever is still mounted below them (deepest first) and remove them.
 */
export async function recoverStaleRuns(runsDir: string): Promise<number> {
  let names: string[];
  try {
    names = await fsp.readdir(runsDir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return 0;
    throw err;
  }
  let removed = 0;
  for (const name of names) {
    const m = /^(\d+)-[0-9a-z]+$/.exec(name);
    if (!m || processAlive(Number(m[1]))) continue;
    await removeScratch(path.join(runsDir, name));
    removed++;
  }
  return removed;
}

/** Unmount everything mounted at or below `dir`, deepest first, then remove it. Never crosses a mount. */
export async function removeScratch(dir: string): Promise<void> {
  const abs = path.resolve(dir);
  const below = mountPoints()
    .filter((m) => m === abs || m.startsWith(`${abs}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of below) await unmountReliably(m);
  if (mountPoints().some((m) => m === abs || m.startsWith(`${abs}/`))) {
    throw new BuildError(`cannot remove ${abs}: something is still mounted below it`);
  }
  await fsp.rm(abs, { recursive: true, force: true });
}

class ToolError extends BuildError {}

async function execTool(tool: string, args: string[], cwd?: string): Promise<void> {
  try {
    await execFileAsync(tool, args, cwd === undefined ? {} : { cwd });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new OverlayUnavailableError(`${tool} is not installed`);
    throw new ToolError(`${tool}: ${(e.stderr ?? '').trim() || e.message}`);
  }
}
