/** Plain data shared by the context modules and their callers (the COPY/ADD implementation). */
import type { BigIntStats } from 'node:fs';

/**
 * What a context path is. Sockets are never part of a context (a tar layer cannot hold them), so they do not
 * appear; device nodes and FIFOs do, as BuildKit sends them too.
 */
export type EntryType = 'file' | 'dir' | 'symlink' | 'fifo' | 'char-device' | 'block-device';

/** One path the walk found, with what its `lstat` said. */
export interface WalkEntry {
  /** Relative to the context root, `/`-separated, never `.` or empty. */
  path: string;
  type: EntryType;
  stat: EntryStat;
  /** The symlink's target, verbatim. */
  linkTarget?: string;
}

/**
 * What the context needs of a (bigint) stat: a `BigIntStats` holds 18 BigInts and 4 Dates, some 800 bytes
 * per file that a 50,000-file context kept twice over.
 */
export interface EntryStat {
  /** Permission bits including setuid/setgid/sticky (`mode & 0o7777`). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Device number (for device nodes). */
  rdev: number;
  /** Modification time in whole seconds since the epoch (rounded down). */
  mtime: number;
  /** Hard links to the inode (a file with more than one may share its content with another context path). */
  nlink: number;
  /**
   * `size:mtimeNs:ctimeNs:ino:dev`, every field exact: what the digest cache keys on (`statKey`). Empty for
   * anything but regular files, whose digests are never cached.
   */
  key: string;
}

const NS_PER_S = 1_000_000_000n;

/** The stat key of a file (see `EntryStat.key`): one flat string, so a cache lookup is one comparison. */
export function statKey(stat: Pick<BigIntStats, 'size' | 'mtimeNs' | 'ctimeNs' | 'ino' | 'dev'>): string {
  return [stat.size, stat.mtimeNs, stat.ctimeNs, stat.ino, stat.dev].join(':');
}

/** Reduce a bigint stat to an `EntryStat`. */
export function entryStat(stat: BigIntStats, withKey = stat.isFile()): EntryStat {
  const ns = stat.mtimeNs;
  const s = ns / NS_PER_S;
  return {
    mode: Number(stat.mode & 0o7777n),
    uid: Number(stat.uid),
    gid: Number(stat.gid),
    size: Number(stat.size),
    rdev: Number(stat.rdev),
    // BigInt division truncates towards zero; times before 1970 round down like everywhere else.
    mtime: Number(ns < 0n && s * NS_PER_S !== ns ? s - 1n : s),
    nlink: Number(stat.nlink),
    key: withKey ? statKey(stat) : '',
  };
}

/**
 * What a COPY/ADD cache key hashes for one path (DESIGN.md "inputs"): never a time stamp, never an inode.
 * `sha256` is set for files only; a directory's digest is built by the caller from its sorted children.
 */
export interface ContextEntry {
  path: string;
  type: EntryType;
  /** Permission bits including setuid/setgid/sticky (`mode & 0o7777`). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of content for files; 0 for everything else. */
  size: number;
  linkTarget?: string;
  /** Device number for character and block devices. */
  rdev?: number;
  /** Lower-case hex sha256 of the file's content. */
  sha256?: string;
  /**
   * For a regular file with more than one hard link: its inode (`ino:dev`), so a COPY can keep two paths of one
   * inode as one file and a hard link, as BuildKit does.
   */
  linkId?: string;
}

/** The `ino:dev` of a file's stat (the end of its stat key), when it has more than one link. */
export function linkIdOf(stat: EntryStat): string | undefined {
  if (stat.nlink <= 1 || stat.key === '') return undefined;
  const parts = stat.key.split(':');
  return `${parts[3]}:${parts[4]}`;
}

/** Classify an lstat result; null for sockets and anything else a context cannot carry. */
export function entryTypeOf(stat: BigIntStats): EntryType | null {
  if (stat.isFile()) return 'file';
  if (stat.isDirectory()) return 'dir';
  if (stat.isSymbolicLink()) return 'symlink';
  if (stat.isFIFO()) return 'fifo';
  if (stat.isCharacterDevice()) return 'char-device';
  if (stat.isBlockDevice()) return 'block-device';
  return null;
}
