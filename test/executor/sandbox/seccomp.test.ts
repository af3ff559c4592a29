import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_CAPABILITIES } from '../../../src/executor/sandbox/policy';
import { SandboxUnavailableError } from '../../../src/executor/sandbox/runtime';
import { defaultSeccomp } from '../../../src/executor/sandbox/seccomp';
import { tempDir } from './support/fixtures';

const allowed = (names: string[], filter: ReturnType<typeof defaultSeccomp>): string[] =>
  names.filter((n) =>
    filter.syscalls.some((r) => r.action === 'SCMP_ACT_ALLOW' && r.names.includes(n) && !r.args),
  );

describe('defaultSeccomp', () => {
  it('is Docker’s default profile for this machine: its architectures, EPERM for the rest, clone3 ENOSYS', () => {
    const f = defaultSeccomp(DEFAULT_CAPABILITIES, undefined, 'x64', '6.1.0-13-amd64');
    expect(f.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(f.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    expect(allowed(['read', 'openat', 'chroot', 'arch_prctl', 'ptrace'], f)).toEqual([
      'read',
      'openat',
      'chroot',
      'arch_prctl',
      'ptrace',
    ]);
    // glibc falls back to clone when clone3 says ENOSYS, as under Docker.
    expect(f.syscalls.find((r) => r.names.includes('clone3'))).toMatchObject({
      action: 'SCMP_ACT_ERRNO',
      errnoRet: 38,
    });
    // ptrace needs kernel 4.8 (before it, seccomp could be bypassed through it).
    expect(allowed(['ptrace'], defaultSeccomp(DEFAULT_CAPABILITIES, undefined, 'x64', '4.4.0'))).toEqual([]);
  });

  it('leaves out what the default capabilities do not grant: mount, keyctl, unshare, kexec, module loading', () => {
    const f = defaultSeccomp(DEFAULT_CAPABILITIES, undefined, 'x64', '6.1.0');
    const denied = ['mount', 'umount2', 'keyctl', 'add_key', 'unshare', 'setns', 'kexec_load', 'init_module'];
    expect(allowed(denied, f)).toEqual([]);
    // With CAP_SYS_ADMIN the profile would allow mount: the capability conditions are what decides.
    expect(
      allowed(
        ['mount'],
        defaultSeccomp([...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'], undefined, 'x64', '6.1.0'),
      ),
    ).toEqual(['mount']);
  });

  it('refuses a profile it cannot read', async () => {
    const dir = await tempDir('seccomp');
    try {
      expect(() => defaultSeccomp(DEFAULT_CAPABILITIES, path.join(dir, 'missing.json'))).toThrow(
        SandboxUnavailableError,
      );
      await fsp.writeFile(path.join(dir, 'bad.json'), '[1]');
      expect(() => defaultSeccomp(DEFAULT_CAPABILITIES, path.join(dir, 'bad.json'))).toThrow(
        /is not a seccomp profile/,
      );
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
