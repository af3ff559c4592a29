/**
 * `tsbuild run`: an image's process, once, in the sandbox a RUN step uses (an OCI runtime, its own namespaces,
 * seccomp, the RUN network), on a throwaway overlay of the image's snapshots (`layers/run-rootfs.ts`, as
 * `ops/run.ts`), gone when it exits. The caller has made the layers local and chosen the command, environment,
 * user and working directory from the image config and its flags. The command is looked up first, as runc's exec
 * would, so that "not found" and "not executable" can be told apart from the process's own exit code.
 */
import * as path from 'node:path';
import { TsbuildError } from '../errors';
import { withRunRootfs } from '../layers/run-rootfs';
import type { SnapshotLayer } from '../layers/snapshots';
import type { BlobStore } from '../store/blob-store';
import { DEFAULT_PATH } from './ops/image-config';
import { resolveInRoot } from './sandbox/rootfs-path';
import type { Isolation } from './sandbox/runtime';
import { runInSandbox } from './sandbox/sandbox';

/** The command could not be started: docker run's 127 (not found) or 126 (found, not executable). */
export class ExecError extends TsbuildError {
  constructor(
    message: string,
    readonly exitCode: 126 | 127,
  ) {
    super(message);
  }
}

export interface RunImageOptions {
  root: string;
  blobs: BlobStore;
  /** The image's layers, base first, every one local (a blob or a snapshot). */
  layers: readonly SnapshotLayer[];
  argv: readonly string[];
  /** `KEY=value`, exactly the process's environment (PATH is added when missing, as docker does). */
  env: readonly string[];
  /** USER as the config says it; empty for root. */
  user: string;
  /** Absolute; created if missing. */
  workdir: string;
  network: 'default' | 'none';
  isolation?: Isolation;
  onOutput: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  signal?: AbortSignal;
}

/** Runs the process to its end; its exit code (128+N when killed by signal N). */
export async function runImage(opts: RunImageOptions): Promise<number> {
  const env = opts.env.some((kv) => kv.startsWith('PATH='))
    ? [...opts.env]
    : [...opts.env, `PATH=${DEFAULT_PATH}`];
  const request = { root: opts.root, blobs: opts.blobs, layers: opts.layers };
  return withRunRootfs(request, async (rootfs, runDir) => {
    await findExecutable(rootfs.path, opts.argv[0] ?? '', env, opts.workdir);
    const result = await runInSandbox({
      rootfs: rootfs.path,
      argv: [...opts.argv],
      env,
      user: opts.user,
      workdir: opts.workdir,
      network: opts.network,
      isolation: opts.isolation ?? 'auto',
      mounts: [],
      scratch: path.join(runDir, 'sandbox'),
      onOutput: opts.onOutput,
      signal: opts.signal,
    });
    return result.exitCode;
  });
}

/**
 * Go's `exec.LookPath` as runc uses it, inside the rootfs: a name with a slash is that path (relative to the
 * working directory) and must be an executable non-directory; a bare name is the first executable file of that
 * name along PATH.
 */
async function findExecutable(
  rootfs: string,
  name: string,
  env: readonly string[],
  cwd: string,
): Promise<void> {
  if (name.includes('/')) {
    const r = await resolveInRoot(rootfs, path.posix.resolve(cwd, name));
    if (r.stat === undefined)
      throw new ExecError(`exec: "${name}": stat ${name}: no such file or directory`, 127);
    if (r.stat.isDirectory() || (r.stat.mode & 0o111) === 0)
      throw new ExecError(`exec: "${name}": permission denied`, 126);
    return;
  }
  const pathVar =
    [...env]
      .reverse()
      .find((kv) => kv.startsWith('PATH='))
      ?.slice(5) ?? DEFAULT_PATH;
  for (const dir of pathVar.split(':')) {
    const r = await resolveInRoot(rootfs, path.posix.resolve(cwd, dir === '' ? '.' : dir, name)).catch(
      () => undefined, // a PATH entry through a non-directory is just not where the command is
    );
    if (r?.stat !== undefined && r.stat.isFile() && (r.stat.mode & 0o111) !== 0) return;
  }
  throw new ExecError(`exec: "${name}": executable file not found in $PATH`, 127);
}
