/**
 * Run one command in an isolated root filesystem and report its exit code. The rootfs is the caller's (an overlay
 * merged dir, or a copy); the sandbox resolves the user and working directory in it, plans the mounts, runs the
 * command under the chosen isolation, and leaves the rootfs as the command left it, minus the mount points it had
 * to create. Its own state (bundle, secrets, /etc/hosts) lives in a tmpfs under `scratch`, never in the rootfs.
 */
import { execFile } from 'node:child_process';
import { promises as fsp, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { BuildError } from '../../errors';
import { mountPoints, removeScratch } from '../../layers/overlay';
import { MountStubs, planMounts, planSystemTargets } from './mount-plan';
import { ociSpec } from './oci-spec';
import { DEFAULT_HOSTNAME, defaultHosts } from './policy';
import { openNetwork, type RunNetwork } from './network';
import { runOci } from './run-oci';
import { selectRuntime } from './runtime';
import type { SandboxMount, SandboxOptions, SandboxResult } from './types';
import { makeInRoot } from './rootfs-path';
import { resolveUser } from './user';

const execFileAsync = promisify(execFile);

export async function runInSandbox(opts: SandboxOptions): Promise<SandboxResult> {
  const runtime = opts.runtime ?? selectRuntime(opts.isolation);
  const rootfs = path.resolve(opts.rootfs);

  const hostname = opts.hostname ?? DEFAULT_HOSTNAME;
  const user = await resolveUser(rootfs, opts.user);
  const env = environment(opts.env, user.home);
  // WORKDIR is created if missing, owned by the user, and stays in the layer (as BuildKit does).
  const cwd = (await makeInRoot(rootfs, opts.workdir, 'dir', user)).resolved.containerPath;

  await fsp.mkdir(opts.scratch, { recursive: true, mode: 0o700 });
  const state = path.join(opts.scratch, 'state');
  await fsp.mkdir(state, { mode: 0o700 });
  const stubs = new MountStubs();
  let network: RunNetwork | undefined;
  try {
    await mountStateTmpfs(state, opts.mounts);
    network = await openNetwork(opts.network, state);
    const files = path.join(state, 'files');
    await fsp.mkdir(files, { mode: 0o711 });
    const system = await planSystemTargets(rootfs, stubs);
    const etc: SandboxMount[] = [
      fileMount('/etc/hosts', opts.hosts ?? defaultHosts(hostname)),
      fileMount('/etc/resolv.conf', opts.resolvConf ?? network.resolvConf ?? hostResolvConf()),
    ];
    const planned = await planMounts(rootfs, [...etc, ...opts.mounts], system, files, stubs);
    await stubs.seal();
    const spec = ociSpec({
      rootfs,
      argv: opts.argv,
      env: [...env].map(([k, v]) => `${k}=${v}`),
      cwd,
      user,
      hostname,
      network: network.isolatedLoopback
        ? 'none'
        : network.namespacePath !== undefined
          ? { path: network.namespacePath }
          : 'host',
      system,
      mounts: planned,
    });
    const exitCode = await runOci({
      runtime,
      spec,
      stateDir: state,
      onOutput: opts.onOutput,
      signal: opts.signal,
    });
    return { exitCode, runtime: runtime.name };
  } finally {
    try {
      await network?.close();
      await stubs.remove();
    } finally {
      await removeScratch(opts.scratch);
    }
  }
}

/** `KEY=value` list → map (a later value wins, as in Docker); HOME from the user unless set. */
function environment(list: readonly string[], home: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const kv of list) {
    const eq = kv.indexOf('=');
    if (eq <= 0) continue;
    env.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  if (!env.has('HOME')) env.set('HOME', home);
  return env;
}

function fileMount(target: string, content: string): SandboxMount {
  return { type: 'file', target, content: Buffer.from(content), mode: 0o644, uid: 0, gid: 0 };
}

function hostResolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

/** Keep secrets and the bundle in memory: a tmpfs over the state dir (left on disk only if tmpfs cannot mount). */
async function mountStateTmpfs(state: string, mounts: readonly SandboxMount[]): Promise<void> {
  const fileBytes = mounts.reduce((n, m) => n + (m.type === 'file' ? m.content.length : 0), 0);
  const size = Math.max(16 << 20, 2 * fileBytes + (1 << 20));
  try {
    await execFileAsync('mount', ['-t', 'tmpfs', '-o', `mode=0700,size=${size}`, 'tmpfs', state]);
  } catch {
    // No tmpfs (an odd host): the state stays on disk, 0700, and is removed with the scratch dir.
    if (mountPoints().includes(state)) throw new BuildError(`cannot use the tmpfs mounted at ${state}`);
  }
}
