/** Facts about this machine's processes and boot, as the store's sweeps and recovery need them. */
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { isErrno } from './atomic';

/** Whether a process of this machine is still there (it may belong to another user: EPERM still means alive). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return !isErrno(err, 'ESRCH');
  }
}

/**
 * The pid a temp name of this store carries (`<pid>-<hex>.part`, `snapshot-<hex12>-<pid>-<hex8>`,
 * `rootfs-<hex12>-<pid>-<hex8>`, a run dir `<pid>-<hex>`), or undefined.
 */
export function tempOwnerPid(name: string): number | undefined {
  const m = /^(?:[a-z]+-[0-9a-f]{12}-)?(\d+)-[0-9a-f]{6,}(?:\.part)?$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

let cachedBootId: string | undefined | null = null;

/**
 * This boot of the machine (`/proc/sys/kernel/random/boot_id`), or undefined where the kernel does not say. Page
 * cache contents written in this boot are what every reader in this boot sees, on disk or not yet: only a
 * restart can tell the two apart.
 */
export function currentBootId(): string | undefined {
  if (cachedBootId !== null) return cachedBootId;
  try {
    const id = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    cachedBootId = /^[0-9a-f-]{8,64}$/.test(id) ? id : undefined;
  } catch {
    cachedBootId = undefined;
  }
  return cachedBootId;
}

/** Field 22 of /proc/<pid>/stat: when the process started. null where /proc is unavailable. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may itself contain spaces or parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null; // fields[0] is field 3 (state), so field 22 is fields[19]
  } catch {
    return null;
  }
}

/** Who holds a lock or a mark: a process, on a host, started at a time (when /proc told). */
export interface ProcessOwner {
  pid: number;
  host: string;
  start: string | null;
}

/**
 * Whether the process that wrote a lock or an in-use marker still runs. One on another machine sharing the store
 * cannot be checked from here: it is trusted as live. A pid whose start time differs is a newer process that reused
 * the number.
 */
export function ownerAlive(owner: ProcessOwner): boolean {
  if (owner.host !== os.hostname()) return true;
  if (!processAlive(owner.pid)) return false;
  if (owner.start !== null) {
    const now = processStartTime(owner.pid);
    if (now !== null && now !== owner.start) return false;
  }
  return true;
}
