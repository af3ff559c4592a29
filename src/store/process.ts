/** Facts about this machine's processes and boot, as the store's sweeps and recovery need them. */
import { readFileSync } from 'node:fs';
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
