/**
 * `RUN --mount=type=bind` without `from=`: the build context as BuildKit mounts it. BuildKit mounts its own
 * snapshot of the context it received, so the command sees the context after `.dockerignore`, never the
 * directory on disk; buildx sends every file as owned by 0:0 (its `resetUIDAndGID`). Here the snapshot is a copy
 * made for the run (only when the step missed), with the modes the build's `--context-modes` policy gives COPY.
 *
 * What the mount holds is part of the step's key (as BuildKit keys a mount by the checksum of its source): the
 * same rows a COPY records, so a miss names the files that changed.
 */
import { constants, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { entryMtime, type ContextEntry } from '../../context';
import { BuildError } from '../../errors';
import { splitDev } from '../../layers/diff';
import { makeSpecialFile } from '../../layers/special-files';
import type { CopySourceFs } from './copy/source-fs';
import type { FileInput } from '../../cache/step-key';

/** The mode of the mount's root when it is the context root (which has no entry of its own). */
const ROOT_DIR_MODE = 0o755;

interface MountedTree {
  /** The mount source resolved inside the context (`''`: the context root). */
  base: string;
  /** The base entry itself (unless it is the root), then everything below it in walk order. */
  entries: ContextEntry[];
}

/** The context entries a bind mount of `source` (`/`-rooted, cleaned) shows; symlinks on the way are followed. */
function mountedTree(context: CopySourceFs, source: string): MountedTree {
  const base = context.tree.resolve(source, true);
  const entries: ContextEntry[] = [];
  if (base !== '') {
    const own = context.entry(base);
    if (!own) throw new BuildError(`mount source ${source} does not exist in the build context`);
    entries.push(own);
  }
  if (context.tree.isDir(base)) {
    for (const node of context.tree.descendants(base)) entries.push(context.entry(node.path) as ContextEntry);
  }
  return { base, entries };
}

/**
 * The key rows of a context bind mount: one per path it shows (context-relative, as a COPY records them), owned
 * by 0:0. Throws a `BuildError` when the source is not in the context (or is excluded by `.dockerignore`).
 */
export function contextMountInputs(context: CopySourceFs, source: string): FileInput[] {
  return mountedTree(context, source).entries.map((e) => [
    e.path,
    e.type,
    e.mode,
    0,
    0,
    e.size,
    e.linkTarget ?? '',
    e.sha256 ?? (e.rdev !== undefined && e.type.endsWith('device') ? `rdev:${e.rdev}` : ''),
  ]);
}

/** Write what a bind mount of `source` shows to `dest` (which must not exist): a directory tree or one file. */
export async function materializeContextMount(
  context: CopySourceFs,
  source: string,
  dest: string,
): Promise<void> {
  const { base, entries } = mountedTree(context, source);
  const target = (e: ContextEntry): string =>
    e.path === base ? dest : path.join(dest, ...e.path.slice(base.length + (base === '' ? 0 : 1)).split('/'));
  if (base === '') await fsp.mkdir(dest, { mode: ROOT_DIR_MODE });
  const dirs: ContextEntry[] = [];
  for (const e of entries) {
    const to = target(e);
    await writeEntry(context, e, to);
    if (e.type === 'dir') dirs.push(e);
    else await finish(e, to);
  }
  // Directory times last: writing their children moved them.
  for (const d of dirs.reverse()) await finish(d, target(d));
  if (base === '') await fsp.chmod(dest, ROOT_DIR_MODE);
}

async function writeEntry(context: CopySourceFs, e: ContextEntry, to: string): Promise<void> {
  const from = path.join(context.root, ...e.path.split('/'));
  switch (e.type) {
    case 'dir':
      await fsp.mkdir(to, { mode: 0o700 });
      return;
    case 'file': {
      // A reflink where the filesystem offers one, else a plain copy.
      await fsp.copyFile(from, to, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
      const { size } = await fsp.lstat(to);
      if (size !== e.size) {
        throw new BuildError(
          `${e.path} changed while the build context was being mounted for RUN; nothing may modify the context during a build`,
        );
      }
      return;
    }
    case 'symlink':
      await fsp.symlink(e.linkTarget ?? '', to);
      return;
    case 'fifo':
      await makeSpecialFile(to, { kind: 'fifo' });
      return;
    case 'char-device':
    case 'block-device':
      await makeSpecialFile(to, {
        kind: e.type === 'char-device' ? 'char' : 'block',
        ...splitDev(BigInt(e.rdev ?? 0)),
      });
      return;
  }
}

/** Owner 0:0, the entry's mode and its time on disk. */
async function finish(e: ContextEntry, to: string): Promise<void> {
  await fsp.lchown(to, 0, 0);
  const mtime = entryMtime(e);
  if (e.type === 'symlink') {
    // A symlink has no mode of its own; its time is set on the link, not its target.
    if (mtime !== undefined) await fsp.lutimes(to, mtime, mtime);
    return;
  }
  await fsp.chmod(to, e.mode);
  if (mtime !== undefined) await fsp.utimes(to, mtime, mtime);
}
