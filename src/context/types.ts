/** Plain data shared by the context modules and their callers (the COPY/ADD implementation). */
import type { BigIntStats } from 'node:fs';

/**
 * What a context path is. Sockets are never part of a context (a tar layer cannot hold them), so they do not
 * appear; device nodes and FIFOs do, as BuildKit sends them too.
 */
export type EntryType = 'file' | 'dir' | 'symlink' | 'fifo' | 'char-device' | 'block-device';

/** One path the walk found, with its `lstat` (bigint, so nanosecond times and 64-bit inodes are exact). */
export interface WalkEntry {
  /** Relative to the context root, `/`-separated, never `.` or empty. */
  path: string;
  type: EntryType;
  stat: BigIntStats;
  /** The symlink's target, verbatim. */
  linkTarget?: string;
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
