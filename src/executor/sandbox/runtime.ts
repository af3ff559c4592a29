/**
 * Which isolation a RUN gets, from what is installed: an OCI runtime, runc first (it works with every cgroup
 * layout), else crun told to skip cgroups (it refuses hybrid v1/v2 hosts otherwise). Both enter the rootfs with
 * pivot_root, so nothing of the host's filesystem stays reachable. `auto` and `oci` mean the same; `chroot` is
 * refused: a command keeping CAP_SYS_CHROOT in a bare chroot reaches the host (the double-chroot escape), and
 * without a device cgroup CAP_MKNOD reaches its disks. When nothing fits, the error names what to install.
 */
import { accessSync, constants } from 'node:fs';
import * as path from 'node:path';
import { BuildError } from '../../errors';

export type Isolation = 'auto' | 'oci' | 'chroot';

export interface SandboxRuntime {
  kind: 'oci';
  name: 'runc' | 'crun';
  path: string;
  tools: { unshare: string; mount: string; sh: string };
}

/** The sandbox cannot work on this machine (missing tools, not root). */
export class SandboxUnavailableError extends BuildError {}

/** Where sbin tools live even when PATH (a non-login shell's, say) leaves them out. */
const EXTRA_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export function findTool(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const p = path.join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** What `selectRuntime` looks at; tests stand in for the machine. */
export interface RuntimeProbe {
  find: (tool: string) => string | undefined;
  isRoot: boolean;
}

const machine = (): RuntimeProbe => ({
  find: findTool,
  isRoot: typeof process.getuid !== 'function' || process.getuid() === 0,
});

export function selectRuntime(isolation: Isolation, probe: RuntimeProbe = machine()): SandboxRuntime {
  if (isolation === 'chroot') {
    throw new SandboxUnavailableError(
      'isolation "chroot" is not offered: a RUN can escape a bare chroot; use --isolation oci (runc or crun, apt-get install runc)',
    );
  }
  if (!probe.isRoot) {
    throw new SandboxUnavailableError(
      'RUN needs root: the sandbox mounts filesystems and creates namespaces (rootless builds are not supported yet)',
    );
  }
  const oci = findOci(probe.find);
  if (oci === undefined) {
    throw new SandboxUnavailableError(
      'RUN needs an OCI runtime to isolate the command, and neither runc nor crun is installed (apt-get install runc)',
    );
  }
  const wrapper = { unshare: probe.find('unshare'), mount: probe.find('mount'), sh: probe.find('sh') };
  const { unshare, mount, sh } = wrapper;
  if (unshare === undefined || mount === undefined || sh === undefined) {
    const missing = Object.entries(wrapper)
      .filter(([, p]) => p === undefined)
      .map(([t]) => t);
    throw new SandboxUnavailableError(
      `RUN runs ${oci.name} through util-linux, and ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing`,
    );
  }
  return { ...oci, tools: { unshare, mount, sh } };
}

function findOci(
  find: (tool: string) => string | undefined,
): { kind: 'oci'; name: 'runc' | 'crun'; path: string } | undefined {
  for (const name of ['runc', 'crun'] as const) {
    const p = find(name);
    if (p !== undefined) return { kind: 'oci', name, path: p };
  }
  return undefined;
}
