/**
 * The store's directories under which new trees of thousands of files are made: `runs/` (a RUN's upper dir) and
 * `tmp/` (a COPY's snapshot, an unpacked layer), each renamed into `snapshots/` when whole.
 *
 * Why they are marked: ext4 puts a new directory's inodes in its parent's block group, and on a file system without
 * a journal (the disks of many VMs and CI machines) it will not reuse an inode freed in the last minute (five when
 * its inode table block is still dirty): every create scans past each such inode (`recently_deleted` in ext4's
 * ialloc.c). A tree made where a tree was just deleted (a prune, a collected snapshot, the last run's scratch)
 * then costs seconds of kernel time per thousand files, more with every delete: a RUN `cp -a /usr` of 120 MB in
 * 6,000 files took 3.7 s of system time instead of 0.35 s. `chattr +T` marks a directory as the top of a
 * hierarchy for ext4's Orlov allocator, which then places each new directory under it in a block group chosen
 * for its free inodes and blocks, away from the ones just freed. On other file systems the flag is refused or
 * ignored, and the store works as before.
 */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Per directory, once per process: the mark is a placement hint, and setting it again is harmless. */
const marked = new Map<string, Promise<void>>();

/** Create `dir` (and its parents) and mark it so that each new tree under it starts in a block group of its own. */
export async function makeTreeParent(dir: string, mode = 0o755): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode });
  const key = path.resolve(dir);
  let done = marked.get(key);
  if (done === undefined) {
    done = markTopDir(key);
    marked.set(key, done);
  }
  await done;
}

/** `chattr +T`; any failure (no chattr, a file system without the flag, no permission) leaves the dir as it is. */
async function markTopDir(dir: string): Promise<void> {
  try {
    await execFileAsync('chattr', ['+T', '--', dir]);
  } catch {
    // only a placement hint: without it new trees are placed as the file system chooses
  }
}
