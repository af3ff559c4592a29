/**
 * The OCI runtime spec (config.json) for one sandboxed command: Docker's default capabilities, masked and
 * read-only /proc paths, no new privileges, new mount/PID/IPC/UTS namespaces (and a network namespace: one with
 * only loopback for `--network=none`, the RUN's own with outbound access by default), a minimal /dev the runtime
 * populates, and the planned mounts.
 */
import type { PlannedMount, SystemTargets } from './mount-plan';
import { DEFAULT_CAPABILITIES, MASKED_PATHS, READONLY_PATHS } from './policy';
import { defaultSeccomp, type OciSeccomp } from './seccomp';
import type { ExecUser } from './user';

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export interface OciSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: { bounding: string[]; effective: string[]; permitted: string[] };
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: OciMount[];
  linux: {
    namespaces: Array<{ type: string; path?: string }>;
    seccomp: OciSeccomp;
    maskedPaths: string[];
    readonlyPaths: string[];
    resources: { devices: Array<{ allow: boolean; access: string }> };
  };
}

export interface OciSpecInput {
  rootfs: string;
  argv: string[];
  env: string[];
  cwd: string;
  user: ExecUser;
  hostname: string;
  /** The host's network, a fresh one with loopback only, or the namespace at `path` (slirp4netns's). */
  network: 'host' | 'none' | { path: string };
  system: SystemTargets;
  mounts: readonly PlannedMount[];
}

export function ociSpec(input: OciSpecInput): OciSpec {
  const caps = [...DEFAULT_CAPABILITIES];
  const { proc, dev, sys } = input.system;
  const mounts: OciMount[] = [
    { destination: proc, type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: dev,
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: `${dev}/pts`,
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    {
      destination: `${dev}/shm`,
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
    },
    {
      destination: `${dev}/mqueue`,
      type: 'mqueue',
      source: 'mqueue',
      options: ['nosuid', 'noexec', 'nodev'],
    },
    { destination: sys, type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  ];
  for (const m of input.mounts) {
    if (m.type === 'tmpfs') {
      const options = ['nosuid', 'nodev', 'mode=1777'];
      if (m.size !== undefined) options.push(`size=${m.size}`);
      mounts.push({ destination: m.target, type: 'tmpfs', source: 'tmpfs', options });
    } else {
      mounts.push({
        destination: m.target,
        type: 'bind',
        source: m.source as string,
        options: ['rbind', m.readOnly ? 'ro' : 'rw'],
      });
    }
  }
  const namespaces: Array<{ type: string; path?: string }> = [
    { type: 'pid' },
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
  ];
  // A new network namespace gets only loopback (the runtime brings it up); a path joins one made for the RUN
  // (outbound through slirp4netns); host shares the host's.
  if (input.network === 'none') namespaces.push({ type: 'network' });
  else if (input.network !== 'host') namespaces.push({ type: 'network', path: input.network.path });
  const user: OciSpec['process']['user'] = { uid: input.user.uid, gid: input.user.gid };
  if (input.user.additionalGids.length > 0) user.additionalGids = input.user.additionalGids;
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user,
      args: input.argv,
      env: input.env,
      cwd: input.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: true,
    },
    root: { path: input.rootfs, readonly: false },
    hostname: input.hostname,
    mounts,
    linux: {
      namespaces,
      seccomp: defaultSeccomp(caps),
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
      // Deny every device but the runtime's defaults (null, zero, full, tty, random, urandom, pts).
      resources: { devices: [{ allow: false, access: 'rwm' }] },
    },
  };
}
