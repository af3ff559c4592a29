/**
 * Paths inside a container's root filesystem, resolved from the host without ever leaving it: symlinks are
 * followed as the container would follow them (an absolute target starts again at the rootfs, `..` stops at the
 * rootfs), one component at a time, so a hostile image cannot make us read, create or mount over a host path.
 * Nothing runs in the rootfs while we resolve, so the answer stays true until the command starts.
 */
import { constants as fsc, promises as fsp, type Stats } from 'node:fs';
import * as path from 'node:path';
import { isErrno } from '../../store/atomic';
import { BuildError } from '../../errors';

/** /etc/passwd and /etc/group larger than this are refused (real ones are kilobytes). */
export const MAX_ACCOUNT_FILE_BYTES = 4 * 1024 * 1024;

/** Linux's limit on symlinks followed in one lookup. */
const MAX_SYMLINKS = 40;

export interface ResolvedPath {
  /** Absolute container path with every symlink resolved (the part that exists) and `..` removed. */
  containerPath: string;
  /** The same path on the host: `<rootfs><containerPath>`. */
  hostPath: string;
  /** lstat of the final component when it exists (never a symlink). */
  stat?: Stats;
}

/** Resolve `containerPath` inside `rootfs`; a missing tail is kept as written (cleaned). */
export async function resolveInRoot(rootfs: string, containerPath: string): Promise<ResolvedPath> {
  const done: string[] = [];
  let todo = split(containerPath);
  let links = 0;
  let stat: Stats | undefined;
  while (todo.length > 0) {
    const c = todo.shift() as string;
    if (c === '..') {
      done.pop();
      stat = undefined;
      continue;
    }
    const host = path.join(rootfs, ...done, c);
    let st: Stats;
    try {
      st = await fsp.lstat(host);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      // The rest does not exist: no symlinks can lie in it, so lexical cleaning is exact.
      for (const rest of [c, ...todo]) {
        if (rest === '..') done.pop();
        else done.push(rest);
      }
      stat = undefined;
      break;
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS)
        throw new BuildError(`too many levels of symbolic links in ${containerPath}`);
      const target = await fsp.readlink(host);
      if (target.startsWith('/')) done.length = 0;
      todo = [...split(target), ...todo];
      stat = undefined;
      continue;
    }
    if (todo.length > 0 && !st.isDirectory()) {
      throw new BuildError(`${containerPath}: /${[...done, c].join('/')} is not a directory`);
    }
    done.push(c);
    stat = st;
  }
  const rel = done.join('/');
  if (rel === '') return { containerPath: '/', hostPath: rootfs, stat: await fsp.lstat(rootfs) };
  return { containerPath: `/${rel}`, hostPath: path.join(rootfs, rel), stat };
}

/**
 * The text of a small regular file inside `rootfs` (`/etc/passwd`, say), symlinks followed inside the rootfs only;
 * undefined when it is missing or not a regular file (a FIFO, a device: never opened, so never a hang). Opened
 * without following a final link and checked to be the file resolved, so a swap in between is caught; a file over
 * `maxBytes` is refused rather than read.
 */
export async function readRootfsFile(
  rootfs: string,
  containerPath: string,
  maxBytes: number,
): Promise<string | undefined> {
  const r = await resolveInRoot(rootfs, containerPath);
  if (r.stat === undefined || !r.stat.isFile()) return undefined;
  const handle = await fsp.open(r.hostPath, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  try {
    const st = await handle.stat();
    if (!st.isFile() || st.ino !== r.stat.ino || st.dev !== r.stat.dev) return undefined;
    if (st.size > maxBytes) {
      throw new BuildError(`${r.containerPath} is larger than ${maxBytes} bytes; refusing to read it`);
    }
    const buf = Buffer.alloc(st.size);
    const { bytesRead } = await handle.read(buf, 0, st.size, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

function split(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

export interface MadePath {
  resolved: ResolvedPath;
  /** Paths this call created (host paths, parents first). */
  created: string[];
  /** The existing directory the first created path went into, with its times before that. */
  parentBefore?: { path: string; atime: Date; mtime: Date };
}

/**
 * Make sure `containerPath` exists in the rootfs as a `kind`, creating what is missing (directories 0755, an empty
 * 0644 file) owned by `owner`. An existing path of the other kind is an error.
 */
export async function makeInRoot(
  rootfs: string,
  containerPath: string,
  kind: 'dir' | 'file',
  owner: { uid: number; gid: number } = { uid: 0, gid: 0 },
): Promise<MadePath> {
  const resolved = await resolveInRoot(rootfs, containerPath);
  const created: string[] = [];
  let parentBefore: MadePath['parentBefore'];
  if (resolved.stat !== undefined) {
    const isDir = resolved.stat.isDirectory();
    if (kind === 'dir' && !isDir)
      throw new BuildError(`${containerPath} exists in the image and is not a directory`);
    if (kind === 'file' && isDir)
      throw new BuildError(`${containerPath} exists in the image and is a directory`);
    return { resolved, created };
  }
  // Walk down the resolved path: the existing prefix is real directories (resolveInRoot checked), the rest is new.
  const parts = split(resolved.containerPath);
  let cur = rootfs;
  for (let i = 0; i < parts.length; i++) {
    cur = path.join(cur, parts[i] as string);
    const last = i === parts.length - 1;
    let exists = true;
    try {
      const st = await fsp.lstat(cur);
      if (!st.isDirectory() && !last) throw new BuildError(`${containerPath}: ${cur} is not a directory`);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      exists = false;
    }
    if (exists) continue;
    if (created.length === 0) {
      const parent = await fsp.lstat(path.dirname(cur));
      parentBefore = { path: path.dirname(cur), atime: parent.atime, mtime: parent.mtime };
    }
    if (last && kind === 'file') {
      const h = await fsp.open(cur, 'wx', 0o644);
      await h.close();
    } else {
      await fsp.mkdir(cur, 0o755);
    }
    await fsp.lchown(cur, owner.uid, owner.gid);
    created.push(cur);
  }
  return {
    resolved: { ...resolved, stat: await fsp.lstat(resolved.hostPath) },
    created,
    ...(parentBefore ? { parentBefore } : {}),
  };
}
