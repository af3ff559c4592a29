/**
 * Crash-safe small-file writes: after a crash or SIGKILL a reader sees either the old file or the new one,
 * never a torn mix. The data goes to a temp file in the same directory (so the rename cannot cross a
 * filesystem), is fsynced, renamed over the target, and the directory is fsynced so the rename itself
 * survives a power cut.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

export interface AtomicWriteOptions {
  /** Permission bits of the new file (default 0o644). */
  mode?: number;
}

/** Fsync a directory so renames and unlinks in it are durable. Some filesystems refuse; that is fine. */
export async function fsyncDir(dir: string): Promise<void> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(dir, 'r');
    await handle.sync();
  } catch (err) {
    // EINVAL/EISDIR/EPERM: the filesystem cannot sync directories; the rename is still atomic.
    if (!isErrno(err, 'EINVAL', 'EISDIR', 'EPERM', 'EACCES')) throw err;
  } finally {
    await handle?.close();
  }
}

/** A temp name next to `target`, unique per process and call, hidden so directory listings skip it. */
export function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  return path.join(dir, `.${path.basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

export async function atomicWriteFile(
  target: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const tmp = tempPathFor(target);
  const handle = await fsp.open(tmp, 'wx', options.mode ?? 0o644);
  try {
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsp.rename(tmp, target);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(path.dirname(target));
}

export function isErrno(err: unknown, ...codes: string[]): boolean {
  return (
    typeof err === 'object' &&
    err !== null &&
    'code' in err &&
    typeof (err as { code: unknown }).code === 'string' &&
    codes.includes((err as { code: string }).code)
  );
}

/** Like `atomicWriteFile`, for content that arrives as a stream (an exported archive, say). */
export async function atomicWriteStream(
  target: string,
  source: AsyncIterable<Uint8Array>,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const tmp = tempPathFor(target);
  const handle = await fsp.open(tmp, 'wx', options.mode ?? 0o644);
  try {
    try {
      for await (const chunk of source) {
        let off = 0;
        while (off < chunk.length) off += (await handle.write(chunk, off, chunk.length - off)).bytesWritten;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsp.rename(tmp, target);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(path.dirname(target));
}

/** Move a tree out of the way (one atomic rename), then delete it at leisure. Whether there was one to remove. */
export async function removeTree(root: string, p: string): Promise<boolean> {
  const tmpDir = path.join(root, 'tmp');
  await fsp.mkdir(tmpDir, { recursive: true });
  const doomed = path.join(tmpDir, `gc-${path.basename(p)}-${randomBytes(4).toString('hex')}`);
  try {
    await fsp.rename(p, doomed);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
  try {
    await fsp.rm(doomed, { recursive: true, force: true });
  } catch (err) {
    if (!isErrno(err, 'EACCES', 'EPERM')) throw err;
    // A layer may hold directories without write permission (we are not root): open them up, then retry.
    await makeWritable(doomed);
    await fsp.rm(doomed, { recursive: true, force: true });
  }
  return true;
}

async function makeWritable(p: string): Promise<void> {
  const st = await fsp.lstat(p).catch(() => undefined);
  if (!st?.isDirectory()) return;
  await fsp.chmod(p, 0o700).catch(() => undefined);
  for (const name of await fsp.readdir(p).catch(() => [] as string[])) await makeWritable(path.join(p, name));
}

/** The bytes of `file`, or undefined when there is no such file (a note or record not written yet). */
export async function readFileOrUndefined(file: string): Promise<Buffer | undefined> {
  try {
    return await fsp.readFile(file);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

/** The names in `dir`, or none when it (or a component of its path) does not exist. */
export async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return [];
    throw err;
  }
}
