/**
 * Which isolation a RUN gets, from what is installed. `oci` runs an OCI runtime: runc first (it works with every
 * cgroup layout), else crun told to skip cgroups (it refuses hybrid v1/v2 hosts otherwise). `chroot` needs only
 * util-linux (unshare, setpriv, mount) and coreutils. `auto` prefers an OCI runtime. When nothing fits, the error
 * names what is missing.
 */
import { accessSync, constants } from 'node:fs';
import * as path from 'node:path';
import { BuildError } from '../../errors';

export type Isolation = 'auto' | 'oci' | 'chroot';

export type SandboxRuntime =
  | {
      kind: 'oci';
      name: 'runc' | 'crun';
      path: string;
      tools: { unshare: string; mount: string; sh: string };
    }
  | { kind: 'chroot'; tools: Record<ChrootTool, string>; ip?: string };

/** The tools the chroot isolation runs on the host, before it enters the rootfs. */
export const CHROOT_TOOLS = ['unshare', 'setpriv', 'mount', 'mknod', 'ln', 'mkdir', 'env', 'bash'] as const;
export type ChrootTool = (typeof CHROOT_TOOLS)[number];

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
  if (!probe.isRoot) {
    throw new SandboxUnavailableError(
      'RUN needs root: the sandbox mounts filesystems and creates namespaces (rootless builds are not supported yet)',
    );
  }
  if (isolation === 'oci' || isolation === 'auto') {
    const oci = findOci(probe.find);
    const wrapper = { unshare: probe.find('unshare'), mount: probe.find('mount'), sh: probe.find('sh') };
    const missing = Object.entries(wrapper)
      .filter(([, p]) => p === undefined)
      .map(([t]) => t);
    if (oci !== undefined && missing.length === 0)
      return { ...oci, tools: wrapper as Record<'unshare' | 'mount' | 'sh', string> };
    if (isolation === 'oci') {
      throw new SandboxUnavailableError(
        oci === undefined
          ? 'isolation "oci" needs an OCI runtime, and neither runc nor crun is installed (apt-get install runc)'
          : `isolation "oci" runs ${oci.name} through util-linux, and ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing`,
      );
    }
  }
  const found: Partial<Record<ChrootTool, string>> = {};
  const missing: string[] = [];
  for (const t of CHROOT_TOOLS) {
    const p = probe.find(t);
    if (p === undefined) missing.push(t);
    else found[t] = p;
  }
  if (missing.length > 0) {
    const what =
      isolation === 'chroot'
        ? `isolation "chroot" needs ${missing.join(', ')} (util-linux, coreutils)`
        : `RUN needs an OCI runtime (runc or crun) or, for chroot isolation, util-linux and coreutils; ` +
          `neither runc nor crun is installed, and ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing`;
    throw new SandboxUnavailableError(what);
  }
  const ip = probe.find('ip');
  return { kind: 'chroot', tools: found as Record<ChrootTool, string>, ...(ip ? { ip } : {}) };
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
