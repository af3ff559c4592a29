/** Asking the file system whether something is there, where "not there" is an answer and not an error. */
import { promises as fsp, type Stats } from 'node:fs';
import { isErrno } from './atomic';

/** `lstat`, or undefined when nothing is at `p` (any other failure is thrown). */
export async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await fsp.lstat(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

/** Whether anything (a dangling symlink too) is at `p`. */
export async function pathExists(p: string): Promise<boolean> {
  return (await lstatOrUndefined(p)) !== undefined;
}
