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

  it('never falls back to chroot: auto without an OCI runtime names what to install', () => {
    const err = (): unknown => selectRuntime('auto', { find: has(...UTIL_LINUX, 'ip'), isRoot: true });
    expect(err).toThrow(SandboxUnavailableError);
    expect(err).toThrow(/neither runc nor crun is installed \(apt-get install runc\)/);
  });

  it('refuses chroot isolation, even with runc installed', () => {
    expect(() => selectRuntime('chroot', { find: has('runc', ...UTIL_LINUX), isRoot: true })).toThrow(
      /isolation "chroot" is not offered: a RUN can escape a bare chroot; use --isolation oci/,
    );
  });

  it('names what is missing around the runtime', () => {
    expect(() => selectRuntime('oci', { find: has('runc', 'mount'), isRoot: true })).toThrow(
      /RUN runs runc through util-linux, and unshare, sh are missing/,
    );
  });

  it('says that it needs root', () => {
    expect(() => selectRuntime('auto', { find: has('runc', ...UTIL_LINUX), isRoot: false })).toThrow(
      /RUN needs root/,
    );
  });
});
