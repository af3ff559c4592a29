/**
 * The one reader of a root filesystem's `/etc/passwd` and `/etc/group`, for USER (the RUN's process) and for
 * `--chown` names alike. The files are read through `readRootfsFile`, so a symlinked `/etc/passwd` cannot point at
 * the host's and a FIFO or a huge file there cannot hang or swamp the build; a missing file has no entries.
 *
 * Lines are read as libcontainer's `user` package reads them, which is what Docker and BuildKit use: fields by
 * position, missing trailing fields empty, so `app:x:1000` is an entry with uid 1000 and gid 0. A line whose id
 * field is not a number names nobody (libcontainer would read it as id 0, which would turn a typo into root).
 */
import { MAX_ACCOUNT_FILE_BYTES, readRootfsFile } from './rootfs-path';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const NUMERIC = /^\d+$/;

export async function readPasswd(rootfs: string): Promise<PasswdEntry[]> {
  const out: PasswdEntry[] = [];
  for (const f of await fileLines(rootfs, '/etc/passwd')) {
    const [name = '', , uid = '', gid = '', , home = ''] = f;
    if (!NUMERIC.test(uid) || (gid !== '' && !NUMERIC.test(gid))) continue;
    out.push({ name, uid: Number(uid), gid: gid === '' ? 0 : Number(gid), home });
  }
  return out;
}

export async function readGroups(rootfs: string): Promise<GroupEntry[]> {
  const out: GroupEntry[] = [];
  for (const f of await fileLines(rootfs, '/etc/group')) {
    const [name = '', , gid = '', members = ''] = f;
    if (!NUMERIC.test(gid)) continue;
    out.push({ name, gid: Number(gid), members: members.split(',').filter(Boolean) });
  }
  return out;
}

/** The file's non-empty, non-comment lines, split into fields. */
async function fileLines(rootfs: string, file: string): Promise<string[][]> {
  const text = (await readRootfsFile(rootfs, file, MAX_ACCOUNT_FILE_BYTES)) ?? '';
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.split(':'));
}
