/**
 * `oci` isolation: write the bundle's config.json and `runc run` it in the foreground (or `crun`, with cgroups
 * skipped). The runtime's state lives in the sandbox's scratch space; the container is deleted when the command
 * ends, and killed (with everything it started) on abort.
 *
 * The runtime itself runs in a private mount namespace of its own, where (1) the rootfs is bound onto itself
 * `nodev`, so a device node the command creates cannot be opened even where no device cgroup guards it, and
 * (2) for crun, the cgroup2 half of a hybrid v1/v2 layout is covered by an empty tmpfs: crun 1.x refuses hybrid
 * hosts outright (even with `--cgroup-manager=disabled`), but runs without cgroups on what then looks like v1.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { OciSpec } from './oci-spec';
import { runProcess } from './process';
import type { SandboxRuntime } from './runtime';

const execFileAsync = promisify(execFile);

export interface OciRunOptions {
  /** The runtime, and where the wrapper finds unshare, mount and sh. */
  runtime: SandboxRuntime;
  spec: OciSpec;
  /** A private directory for the bundle and the runtime's state. */
  stateDir: string;
  onOutput?: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  signal?: AbortSignal;
}

export async function runOci(options: OciRunOptions): Promise<number> {
  const bundle = path.join(options.stateDir, 'bundle');
  const stateRoot = path.join(options.stateDir, 'runtime');
  await fsp.mkdir(bundle, { mode: 0o700 });
  await fsp.mkdir(stateRoot, { mode: 0o700 });
  await fsp.writeFile(path.join(bundle, 'config.json'), JSON.stringify(options.spec), { mode: 0o600 });
  const id = `tsbuild-${randomBytes(8).toString('hex')}`;
  const global = ['--root', stateRoot];
  if (options.runtime.name === 'crun') global.push('--cgroup-manager=disabled');
  const tool = options.runtime.path;
  const { unshare, mount, sh } = options.runtime.tools;
  const rootfs = options.spec.root.path;
  const hideCgroup2 =
    options.runtime.name === 'crun'
      ? `if [ -e /sys/fs/cgroup/unified/cgroup.controllers ]; then "$M" -t tmpfs -o ro,size=0 tsbuild-no-cgroup2 /sys/fs/cgroup/unified; fi; `
      : '';
  const script =
    'set -e; M=$1; R=$2; shift 2; "$M" --bind -- "$R" "$R"; "$M" -o remount,bind,nodev -- "$R"; ' +
    `${hideCgroup2}exec "$@"`;
  try {
    const args = ['--mount', '--propagation', 'private', '--', sh, '-c', script, 'sh', mount, rootfs, tool];
    return await runProcess(unshare, [...args, ...global, 'run', '--bundle', bundle, id], {
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
      onOutput: options.onOutput,
      signal: options.signal,
      kill: async () => {
        await execFileAsync(tool, [...global, 'kill', id, 'KILL']);
      },
    });
  } finally {
    // Normally gone already (run deletes it); after a kill it may linger in the runtime's state.
    await execFileAsync(tool, [...global, 'delete', '--force', id]).catch(() => undefined);
  }
}
