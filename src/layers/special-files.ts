/**
 * FIFOs and device nodes, which Node cannot create: made with coreutils' `mkfifo` and `mknod`, mode 0600 until
 * the caller gives them their real mode and owner.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BuildError } from '../errors';
import { inUserNamespace } from './user-namespace';

const execFileAsync = promisify(execFile);

export type SpecialFile = { kind: 'fifo' } | { kind: 'char' | 'block'; major: number; minor: number };

/**
 * `shown` names the file in an error (its path in the image). In a user namespace (a rootless build) the kernel
 * refuses device nodes: that is said in one line, not as mknod's failure.
 */
export async function makeSpecialFile(file: string, special: SpecialFile, shown = file): Promise<void> {
  if (special.kind === 'fifo') {
    await execFileAsync('mkfifo', ['-m', '600', '--', file]);
    return;
  }
  const type = special.kind === 'char' ? 'c' : 'b';
  try {
    await execFileAsync('mknod', [
      '-m',
      '600',
      '--',
      file,
      type,
      String(special.major),
      String(special.minor),
    ]);
  } catch (err) {
    if (!inUserNamespace()) throw err;
    throw new BuildError(
      `${shown}: a ${special.kind} device (${special.major}:${special.minor}), which a rootless build cannot ` +
        'create (making device nodes needs root on the host): build this image as root',
    );
  }
}
