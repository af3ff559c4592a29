/**
 * `--output type=local`: a root filesystem copied out to a directory of the user's, without ever writing through
 * what is already there. The tree is copied into a fresh directory beside the destination (same filesystem) and
 * then moved into place: the whole directory when the destination is missing or empty, else each top-level entry,
 * replacing whatever had its name (removed without following links). So a symlink left in the destination by an
 * earlier export (`/x -> /etc/shadow`, say) is replaced, never written through.
 */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { isErrno } from '../store/atomic';
import { UserError } from '../errors';

const execFileAsync = promisify(execFile);

export async function exportDirectory(tree: string, dest: string): Promise<void> {
  const abs = path.resolve(dest);
  const parent = path.dirname(abs);
  await fsp.mkdir(parent, { recursive: true });
  const existing = await fsp.lstat(abs).catch((err: unknown) => {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  });
  // A destination that is a link to a directory is the user's own choice: follow it once, here, and nowhere else.
  const target = existing?.isSymbolicLink() ? await fsp.realpath(abs) : abs;
  const targetStat = existing?.isSymbolicLink() ? await fsp.stat(target) : existing;
  if (targetStat !== undefined && !targetStat.isDirectory()) {
    throw new UserError(`--output type=local: ${dest} exists and is not a directory`);
  }
  const staging = await fsp.mkdtemp(path.join(path.dirname(target), `.${path.basename(target)}.tsbuild-`));
  try {
    // cp -a keeps links, owners, modes and times exactly; Node's fs.cp chokes on absolute symlink targets.
    await execFileAsync('cp', ['-a', '--', `${tree}/.`, `${staging}/`]);
    if (targetStat === undefined || (await fsp.readdir(target)).length === 0) {
      if (targetStat !== undefined) await fsp.rmdir(target);
      await fsp.rename(staging, target);
      return;
    }
    for (const name of await fsp.readdir(staging)) {
      const into = path.join(target, name);
      await fsp.rm(into, { recursive: true, force: true }); // a link is removed, not followed
      await fsp.rename(path.join(staging, name), into);
    }
  } finally {
    await fsp.rm(staging, { recursive: true, force: true });
  }
}
