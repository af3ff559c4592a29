/**
 * `oci` isolation: write the bundle's config.json and `runc run` it in the foreground (or `crun`, told to skip
 * cgroups, which it cannot manage on hybrid v1/v2 hosts). The runtime's state lives in the sandbox's scratch
 * space; the container is deleted when the command ends, and killed (with everything it started) on abort.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { OciSpec } from './oci-spec';
import { runProcess } from './process';

const execFileAsync = promisify(execFile);

export interface OciRunOptions {
  runtime: { name: 'runc' | 'crun'; path: string };
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
  try {
    return await runProcess(tool, [...global, 'run', '--bundle', bundle, id], {
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
