import { selectRuntime, SandboxUnavailableError } from '../../../src/executor/sandbox/runtime';

const has =
  (...tools: string[]) =>
  (t: string): string | undefined =>
    tools.includes(t) ? `/usr/bin/${t}` : undefined;
const UTIL_LINUX = ['unshare', 'setpriv', 'mount', 'mknod', 'ln', 'mkdir', 'env', 'bash', 'sh'];

describe('selectRuntime', () => {
  it('prefers runc, then crun, for auto and oci', () => {
    expect(selectRuntime('auto', { find: has('runc', 'crun', ...UTIL_LINUX), isRoot: true })).toMatchObject({
      kind: 'oci',
      name: 'runc',
    });
    expect(selectRuntime('oci', { find: has('crun', ...UTIL_LINUX), isRoot: true })).toMatchObject({
      kind: 'oci',
      name: 'crun',
    });
  });

  it('falls back to chroot under auto when no OCI runtime is installed', () => {
    const r = selectRuntime('auto', { find: has(...UTIL_LINUX, 'ip'), isRoot: true });
    expect(r).toMatchObject({ kind: 'chroot', ip: '/usr/bin/ip' });
  });

  it('uses chroot when asked even with runc installed', () => {
    expect(selectRuntime('chroot', { find: has('runc', ...UTIL_LINUX), isRoot: true }).kind).toBe('chroot');
  });

  it('names what is missing when nothing can work', () => {
    const err = (): unknown =>
      selectRuntime('auto', { find: has('mount', 'mknod', 'ln', 'mkdir', 'env', 'bash'), isRoot: true });
    expect(err).toThrow(SandboxUnavailableError);
    expect(err).toThrow(/neither runc nor crun is installed, and unshare, setpriv are missing/);
    expect(() => selectRuntime('oci', { find: has(...UTIL_LINUX), isRoot: true })).toThrow(
      /isolation "oci" needs an OCI runtime, and neither runc nor crun is installed/,
    );
    expect(() => selectRuntime('chroot', { find: has('unshare', 'mount'), isRoot: true })).toThrow(
      /isolation "chroot" needs setpriv, mknod, ln, mkdir, env, bash/,
    );
  });

  it('says that it needs root', () => {
    expect(() => selectRuntime('auto', { find: has('runc', ...UTIL_LINUX), isRoot: false })).toThrow(
      /RUN needs root/,
    );
  });
});
