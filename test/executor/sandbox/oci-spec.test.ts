import { ociSpec } from '../../../src/executor/sandbox/oci-spec';
import { DEFAULT_CAPABILITIES, MASKED_PATHS, READONLY_PATHS } from '../../../src/executor/sandbox/policy';

const base = {
  rootfs: '/r',
  argv: ['/bin/sh', '-c', 'true'],
  env: ['PATH=/bin', 'HOME=/root'],
  cwd: '/app',
  user: { uid: 1000, gid: 1000, additionalGids: [1000, 50], home: '/home/u' },
  hostname: 'buildkitsandbox',
  network: 'host' as const,
  system: { proc: '/proc', dev: '/dev', sys: '/sys' },
  mounts: [
    {
      target: '/ctx',
      type: 'bind' as const,
      source: '/host/ctx',
      file: false,
      readOnly: true,
      createAtMount: false,
    },
    {
      target: '/tmp/t',
      type: 'tmpfs' as const,
      file: false,
      readOnly: false,
      createAtMount: false,
      size: 1024,
    },
  ],
};

describe('ociSpec', () => {
  it('drops to Docker’s capabilities, masks /proc, allows no new privileges', () => {
    const spec = ociSpec(base);
    expect(spec.process.capabilities.bounding).toEqual([...DEFAULT_CAPABILITIES]);
    expect(spec.process.capabilities.bounding).not.toContain('CAP_SYS_ADMIN');
    expect(spec.process.noNewPrivileges).toBe(true);
    expect(spec.linux.maskedPaths).toEqual(MASKED_PATHS);
    expect(spec.linux.readonlyPaths).toEqual(READONLY_PATHS);
    expect(spec.linux.resources.devices).toEqual([{ allow: false, access: 'rwm' }]);
    expect(spec.process.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 50] });
    expect(spec.process).toMatchObject({ args: base.argv, env: base.env, cwd: '/app', terminal: false });
  });

  it('gives its own mount, PID, IPC and UTS namespaces, and a network one only for none', () => {
    expect(ociSpec(base).linux.namespaces.map((n) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount']);
    expect(ociSpec({ ...base, network: 'none' }).linux.namespaces.map((n) => n.type)).toContain('network');
  });

  it('mounts /proc, a minimal /dev, read-only /sys, then the planned mounts in order', () => {
    const mounts = ociSpec(base).mounts;
    expect(mounts.map((m) => `${m.destination} ${m.type} ${m.options.join(',')}`)).toEqual([
      '/proc proc nosuid,noexec,nodev',
      '/dev tmpfs nosuid,strictatime,mode=755,size=65536k',
      '/dev/pts devpts nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5',
      '/dev/shm tmpfs nosuid,noexec,nodev,mode=1777,size=65536k',
      '/dev/mqueue mqueue nosuid,noexec,nodev',
      '/sys sysfs nosuid,noexec,nodev,ro',
      '/ctx bind rbind,ro',
      '/tmp/t tmpfs nosuid,nodev,mode=1777,size=1024',
    ]);
    expect(mounts[6]?.source).toBe('/host/ctx');
  });
});
