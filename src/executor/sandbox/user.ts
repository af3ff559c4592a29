/**
 * USER as Docker runs it: `name`, `uid`, `name:group`, `uid:gid` …, names looked up in the rootfs's own
 * /etc/passwd and /etc/group (`accounts.ts`, confined to the rootfs).
 * Without a group the primary group is the passwd entry's, or 0 for a uid with no entry, and the group list is
 * what `initgroups` gives (the primary group and every group listing the user); with a group, just that group. HOME is the passwd entry's home, else /root.
 */
import { BuildError } from '../../errors';
import { readGroups, readPasswd } from './accounts';

export interface ExecUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
  /** The passwd name, when there is an entry. */
  name?: string;
}

const NUMERIC = /^\d+$/;
const MAX_ID = 2 ** 32 - 2;

export async function resolveUser(rootfs: string, spec: string): Promise<ExecUser> {
  // No USER is uid 0, looked up by number: an image without /etc/passwd (scratch + a static binary) runs as 0:0.
  const [userPart = '', groupPart] = (spec === '' ? '0' : spec).split(':', 2) as [string, string | undefined];
  if (userPart === '') throw new BuildError(`invalid user ${JSON.stringify(spec)}`);
  const passwd = await readPasswd(rootfs);
  const entry = NUMERIC.test(userPart)
    ? passwd.find((p) => p.uid === Number(userPart))
    : passwd.find((p) => p.name === userPart);
  if (entry === undefined && !NUMERIC.test(userPart)) {
    throw new BuildError(`unable to find user ${userPart}: no matching entries in passwd file`);
  }
  const uid = entry?.uid ?? checkId(Number(userPart), spec);

  const needGroups = groupPart !== undefined || entry !== undefined;
  const groups = needGroups ? await readGroups(rootfs) : [];
  let gid: number;
  let additionalGids: number[] = [];
  if (groupPart !== undefined && groupPart !== '') {
    if (NUMERIC.test(groupPart)) {
      gid = checkId(Number(groupPart), spec);
    } else {
      const g = groups.find((x) => x.name === groupPart);
      if (g === undefined)
        throw new BuildError(`unable to find group ${groupPart}: no matching entries in group file`);
      gid = g.gid;
    }
  } else {
    gid = entry?.gid ?? 0;
    // Only without an explicit group, as Docker: the named group then is the whole group set.
    if (entry !== undefined) {
      // initgroups(3): the primary group first, then every group listing the user.
      additionalGids = [gid, ...groups.filter((g) => g.members.includes(entry.name)).map((g) => g.gid)];
    }
  }
  additionalGids = [...new Set(additionalGids)];
  return { uid, gid, additionalGids, home: entry?.home || '/root', ...(entry ? { name: entry.name } : {}) };
}

function checkId(n: number, spec: string): number {
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_ID)
    throw new BuildError(`invalid user ${JSON.stringify(spec)}`);
  return n;
}
