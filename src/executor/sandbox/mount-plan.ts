/**
 * Where every mount of a sandbox goes, decided before the command starts: targets resolved inside the rootfs
 * (never through a symlink out of it), mount points created where missing (and remembered as stubs, removed again
 * after the run so they do not end up in the layer, as BuildKit does), contents of file mounts written to the
 * sandbox's memory-backed state dir. Both isolations then just mount what the plan says.
 *
 * A target inside another mount is resolved inside that mount's source instead: in a tmpfs it is made when the
 * mount is set up, in a tsbuild-owned source (a cache dir) it is made there, and in any other source (the build
 * context, a stage) it must already exist, because those are never written.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { isErrno } from '../../store/atomic';
import { BuildError } from '../../errors';
import { makeInRoot, resolveInRoot, type MadePath } from './rootfs-path';
import type { SandboxMount } from './types';

export interface PlannedMount {
  /** Resolved absolute container path. */
  target: string;
  type: 'bind' | 'tmpfs';
  /** Host source of a bind mount. */
  source?: string;
  /** The target is a file (a bind of a file). */
  file: boolean;
  readOnly: boolean;
  /** tmpfs size in bytes. */
  size?: number;
  /** The target lies in a tmpfs mounted earlier: create it (and its parents) there when mounting. */
  createAtMount: boolean;
}

/** The system mount points, resolved: where /proc, /dev and /sys go. */
export interface SystemTargets {
  proc: string;
  dev: string;
  sys: string;
}

/** Mount points created in the rootfs for this run, to be removed after it. */
export class MountStubs {
  private readonly created: string[] = [];
  private readonly parents = new Map<string, { atime: Date; mtime: Date; sealed?: number }>();

  async make(rootfs: string, containerPath: string, kind: 'dir' | 'file'): Promise<MadePath> {
    const made = await makeInRoot(rootfs, containerPath, kind);
    this.created.push(...made.created);
    if (made.parentBefore && !this.parents.has(made.parentBefore.path)) {
      const { atime, mtime } = made.parentBefore;
      this.parents.set(made.parentBefore.path, { atime, mtime });
    }
    return made;
  }

  /** Note the parents' times once all stubs exist, to tell later whether the command changed them itself. */
  async seal(): Promise<void> {
    for (const [p, rec] of this.parents) rec.sealed = (await fsp.lstat(p)).mtimeMs;
  }

  /**
   * Remove the stubs that are still empty (a mount covered them, so the command could not fill them), deepest
   * first, and give their parents back their old times unless the command changed the parent too.
   */
  async remove(): Promise<void> {
    // Parents the command left alone since sealing get their times back once the stubs are gone.
    const restore: Array<[string, Date, Date]> = [];
    for (const [p, rec] of this.parents) {
      const st = await fsp.lstat(p).catch(() => undefined);
      if (st?.isDirectory() && rec.sealed === st.mtimeMs) restore.push([p, rec.atime, rec.mtime]);
    }
    for (const p of [...this.created].reverse()) {
      try {
        const st = await fsp.lstat(p);
        if (st.isDirectory()) {
          if ((await fsp.readdir(p)).length === 0) await fsp.rmdir(p);
        } else if (st.isFile() && st.size === 0) {
          await fsp.unlink(p);
        }
      } catch (err) {
        if (!isErrno(err, 'ENOENT', 'ENOTEMPTY', 'ENOTDIR')) throw err;
      }
    }
    for (const [p, atime, mtime] of restore) {
      // A parent that was itself a stub (the `/etc` made for `/etc/hosts` on an image without one) is gone now.
      await fsp.utimes(p, atime, mtime).catch((err: unknown) => {
        if (!isErrno(err, 'ENOENT')) throw err;
      });
    }
  }
}

/** Resolve /proc, /dev and /sys, making them (as stubs) where the image has none. */
export async function planSystemTargets(rootfs: string, stubs: MountStubs): Promise<SystemTargets> {
  const dir = async (p: string): Promise<string> =>
    (await stubs.make(rootfs, p, 'dir')).resolved.containerPath;
  return { proc: await dir('/proc'), dev: await dir('/dev'), sys: await dir('/sys') };
}

/**
 * Plan the user-visible mounts (after the system ones). File mounts are written under `filesDir` (which must not
 * be inside the rootfs), readable by `uid/gid` with `mode`.
 */
export async function planMounts(
  rootfs: string,
  mounts: readonly SandboxMount[],
  system: SystemTargets,
  filesDir: string,
  stubs: MountStubs,
): Promise<PlannedMount[]> {
  // Parents before children: a mount nested in another must be mounted after it.
  const ordered = mounts
    .map((m, i) => ({ m, i, depth: cleanTarget(m.target).split('/').length }))
    .sort((a, b) => a.depth - b.depth || a.i - b.i)
    .map((x) => x.m);
  const planned: PlannedMount[] = [];
  const seen = new Set<string>();
  let fileNo = 0;
  for (const m of ordered) {
    const target = cleanTarget(m.target);
    if (seen.has(target)) throw new BuildError(`two mounts have the same target ${target}`);
    seen.add(target);
    for (const sys of [system.proc, system.sys]) {
      if (target === sys || target.startsWith(`${sys}/`)) throw new BuildError(`cannot mount over ${target}`);
    }
    if (target === system.dev) throw new BuildError(`cannot mount over ${target}`);
    const kind: 'dir' | 'file' =
      m.type === 'file' || (m.type === 'bind' && (await isFile(m.source))) ? 'file' : 'dir';
    let source: string | undefined;
    if (m.type === 'file') {
      source = path.join(filesDir, String(fileNo++));
      await fsp.writeFile(source, m.content, { mode: 0o600 });
      await fsp.chown(source, m.uid, m.gid);
      await fsp.chmod(source, m.mode);
    } else if (m.type === 'bind') {
      source = m.source;
    }

    const parent = parentMount(target, planned, system);
    let resolvedTarget: string;
    let createAtMount = false;
    if (parent === undefined) {
      resolvedTarget = (await stubs.make(rootfs, target, kind)).resolved.containerPath;
      const inside = parentMount(resolvedTarget, planned, system);
      if (inside !== undefined) {
        throw new BuildError(
          `mount target ${target} leads through a symlink into the mount at ${inside.target}`,
        );
      }
    } else {
      const rel = path.posix.relative(parent.target, target);
      if (parent.type === 'tmpfs') {
        resolvedTarget = target; // a fresh tmpfs holds no symlinks: the path is what it says
        createAtMount = true;
      } else if (parent.file || parent.source === undefined) {
        throw new BuildError(`mount target ${target} is inside the file mounted at ${parent.target}`);
      } else if (parent.owned) {
        const made = await makeInRoot(parent.source, `/${rel}`, kind);
        resolvedTarget = path.posix.join(parent.target, made.resolved.containerPath);
      } else {
        const r = await resolveInRoot(parent.source, `/${rel}`);
        const ok = r.stat !== undefined && (kind === 'dir' ? r.stat.isDirectory() : !r.stat.isDirectory());
        if (!ok) {
          throw new BuildError(
            `mount target ${target} must already exist as a ${kind === 'dir' ? 'directory' : 'file'} in what is mounted at ${parent.target}, which is read-only to the build`,
          );
        }
        resolvedTarget = path.posix.join(parent.target, r.containerPath);
      }
    }
    const p: PlannedMount & { owned?: boolean } = {
      target: resolvedTarget,
      type: m.type === 'tmpfs' ? 'tmpfs' : 'bind',
      file: kind === 'file',
      readOnly: m.type === 'file' ? true : m.type === 'bind' ? m.readOnly : false,
      createAtMount,
    };
    if (source !== undefined) p.source = source;
    if (m.type === 'tmpfs' && m.size !== undefined) p.size = m.size;
    if (m.type === 'bind' && m.owned) p.owned = true;
    planned.push(p);
  }
  return planned;
}

type Parent = PlannedMount & { owned?: boolean };

/** The deepest mount (planned so far, or the system /dev tmpfs) that contains `target`. */
function parentMount(target: string, planned: readonly Parent[], system: SystemTargets): Parent | undefined {
  let best: Parent | undefined;
  const dev: Parent = {
    target: system.dev,
    type: 'tmpfs',
    file: false,
    readOnly: false,
    createAtMount: false,
  };
  for (const p of [dev, ...planned]) {
    if (target.startsWith(`${p.target}/`) && (best === undefined || p.target.length > best.target.length))
      best = p;
  }
  return best;
}

function cleanTarget(t: string): string {
  if (!t.startsWith('/')) throw new BuildError(`mount target ${JSON.stringify(t)} is not absolute`);
  const clean = path.posix.normalize(t).replace(/\/+$/, '');
  if (clean === '' || clean === '/') throw new BuildError('cannot mount over /');
  return clean;
}

async function isFile(p: string): Promise<boolean> {
  try {
    return !(await fsp.stat(p)).isDirectory();
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new BuildError(`mount source ${p} does not exist`);
    throw err;
  }
}
