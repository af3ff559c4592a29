/** Whether a process of this machine is still there (it may belong to another user: EPERM still means alive). */
import { isErrno } from './atomic';

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
