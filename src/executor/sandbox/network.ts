/**
 * A RUN's network, as BuildKit gives it: by default a network namespace of its own with outbound access through
 * slirp4netns, a user-space NAT (Debian's `slirp4netns`), which answers for the host's loopback only when told to
 * and is told not to (`--disable-host-loopback`): a RUN can fetch from the internet and cannot reach a service
 * listening on the host's 127.0.0.1. `none` is a namespace with loopback only; `host` is the host's own network,
 * which the caller grants only on an explicit opt-in.
 *
 * The namespace is made persistent on a file in the sandbox's private state dir (`unshare --net=FILE`), slirp4netns
 * joins it by that path, and the runtime joins it by the same path. slirp4netns holds the read end of a pipe whose
 * write end only this process has (`--exit-fd`): if tsbuild dies, the NAT exits with it; the namespace file is a
 * mount under the run's scratch dir, which the next build's cleanup unmounts.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { unmountReliably } from '../../layers/overlay';
import { findTool, SandboxUnavailableError } from './runtime';

const execFileAsync = promisify(execFile);

/** slirp4netns's fixed addresses: the guest is 10.0.2.100, its DNS forwarder 10.0.2.3. */
export const SLIRP_DNS = '10.0.2.3';
const READY_TIMEOUT_MS = 10_000;

export interface RunNetwork {
  /** The namespace file for the runtime to join; undefined for the host's network. */
  namespacePath?: string;
  /** `none`: a fresh namespace with loopback only (the runtime makes it). */
  isolatedLoopback: boolean;
  /** resolv.conf for the command, when the host's would not work in there. */
  resolvConf?: string;
  close(): Promise<void>;
}

export async function openNetwork(mode: 'default' | 'none' | 'host', stateDir: string): Promise<RunNetwork> {
  if (mode === 'host') return { isolatedLoopback: false, close: async () => undefined };
  if (mode === 'none') return { isolatedLoopback: true, close: async () => undefined };
  const slirp = findTool('slirp4netns');
  const unshare = findTool('unshare');
  if (slirp === undefined || unshare === undefined) {
    throw new SandboxUnavailableError(
      `RUN's default network needs ${slirp === undefined ? 'slirp4netns' : 'unshare'} (apt-get install slirp4netns); ` +
        'or build with --network none',
    );
  }
  const nsFile = path.join(stateDir, 'netns');
  await fsp.writeFile(nsFile, '', { mode: 0o600 });
  try {
    await execFileAsync(unshare, [`--net=${nsFile}`, 'true']);
  } catch (err) {
    await fsp.rm(nsFile, { force: true });
    throw new SandboxUnavailableError(
      `cannot create a network namespace for RUN: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  let child: ChildProcess | undefined;
  const close = async (): Promise<void> => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child?.once('close', resolve));
      child.stdio[4]?.destroy(); // the exit pipe: slirp4netns leaves when it closes
      child.kill('SIGTERM');
      await exited;
    }
    await unmountReliably(nsFile).catch(() => undefined);
    await fsp.rm(nsFile, { force: true });
  };
  try {
    child = spawn(
      slirp,
      [
        '--configure',
        '--mtu=65520',
        '--disable-host-loopback',
        '--enable-sandbox',
        '--enable-seccomp',
        '--ready-fd=3',
        '--exit-fd=4',
        '--netns-type=path',
        nsFile,
        'tap0',
      ],
      { cwd: '/', stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
    );
    await ready(child);
  } catch (err) {
    await close();
    throw err;
  }
  return { namespacePath: nsFile, isolatedLoopback: false, resolvConf: `nameserver ${SLIRP_DNS}\n`, close };
}

/** slirp4netns writes "1" to the ready fd once tap0 is configured. */
function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(
      () => reject(new SandboxUnavailableError('slirp4netns did not configure the network in time')),
      READY_TIMEOUT_MS,
    );
    const readyPipe = child.stdio[3];
    readyPipe?.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new SandboxUnavailableError(`cannot run slirp4netns: ${err.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      reject(new SandboxUnavailableError(`slirp4netns exited (${code ?? 'signal'}): ${stderr.trim()}`));
    });
  });
}
