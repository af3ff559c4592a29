/**
 * FIFOs and device nodes, which Node cannot create: made with coreutils' `mkfifo` and `mknod`, mode 0600 until
 * the caller gives them their real mode and owner.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export type SpecialFile = { kind: 'fifo' } | { kind: 'char' | 'block'; major: number; minor: number };

export async function makeSpecialFile(file: string, special: SpecialFile): Promise<void> {
  if (special.kind === 'fifo') {
    await execFileAsync('mkfifo', ['-m', '600', '--', file]);
    return;
  }
  const type = special.kind === 'char' ? 'c' : 'b';
  await execFileAsync('mknod', ['-m', '600', '--', file, type, String(special.major), String(special.minor)]);
}
