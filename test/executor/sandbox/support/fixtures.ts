/**
 * Real parts for sandbox and layer tests: a busybox root filesystem made from Debian's busybox-static, layers
 * stored as blobs, and a record of the host to prove a test left it as it found it. A missing tool fails the
 * test: these tests exist to show the real thing works here.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fsp, readFileSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BlobStore } from '../../../../src/store/blob-store';
import type { Digest } from '../../../../src/store/digest';
import { storeLayer } from '../../../../src/layers/compress';
import { diffUpperDir } from '../../../../src/layers/diff';
import { createLayerTar, type LayerEntry } from '../../../../src/layers/tar-writer';

/** Throws (so the test fails, not skips) unless every tool is on PATH. */
export function requireTools(...tools: string[]): void {
  const missing = tools.filter((t) => !which(t));
  if (missing.length > 0) {
    throw new Error(`required tools missing: ${missing.join(', ')} (run scripts/setup-test-tools.sh)`);
  }
}

export function which(tool: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir, tool);
    if (dir !== '' && existsSync(p)) return p;
  }
  return undefined;
}

export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('these tests mount filesystems and need root');
}

export async function tempDir(prefix: string): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), `tsbuild-${prefix}-`));
}

const BUSYBOX = '/bin/busybox';

/**
 * A minimal root filesystem: static busybox with every applet as a symlink, /etc/passwd with root and `user`
 * (1000:1000), /etc/group with `staff` (50) listing `user`, /tmp 1777, /root 0700, and empty /proc /dev /sys.
 */
export async function makeBusyboxRootfs(dir: string): Promise<void> {
  requireTools('busybox');
  const info = execFileSync('file', ['-L', BUSYBOX]).toString();
  if (!info.includes('statically linked'))
    throw new Error(`${BUSYBOX} is not static: install busybox-static`);
  for (const d of [
    'bin',
    'sbin',
    'usr/bin',
    'usr/sbin',
    'etc',
    'root',
    'tmp',
    'var',
    'dev',
    'proc',
    'sys',
    'home/user',
  ]) {
    await fsp.mkdir(path.join(dir, d), { recursive: true, mode: 0o755 });
  }
  await fsp.chmod(path.join(dir, 'tmp'), 0o1777);
  await fsp.chmod(path.join(dir, 'root'), 0o700);
  await fsp.chown(path.join(dir, 'home/user'), 1000, 1000);
  await fsp.copyFile(BUSYBOX, path.join(dir, 'bin/busybox'));
  await fsp.chmod(path.join(dir, 'bin/busybox'), 0o755);
  const applets = execFileSync(BUSYBOX, ['--list-full']).toString().split('\n').filter(Boolean);
  for (const rel of applets) {
    if (rel === 'bin/busybox') continue;
    await fsp.mkdir(path.join(dir, path.dirname(rel)), { recursive: true });
    await fsp.symlink('/bin/busybox', path.join(dir, rel)).catch(() => undefined);
  }
  await fsp.writeFile(
    path.join(dir, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:User:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  );
  await fsp.writeFile(
    path.join(dir, 'etc/group'),
    'root:x:0:\nstaff:x:50:user\nuser:x:1000:\nnogroup:x:65534:\n',
  );
}

/** Store `entries` as a gzip layer blob; returns what snapshots need. */
export async function storeEntries(
  blobs: BlobStore,
  entries: LayerEntry[],
): Promise<{ digest: Digest; diffId: Digest }> {
  const stored = await storeLayer(createLayerTar(entries), blobs, { compression: 'gzip' });
  return { digest: stored.digest, diffId: stored.diffId };
}

/** Store a directory tree (no whiteouts) as one layer. */
export async function storeTree(blobs: BlobStore, dir: string): Promise<{ digest: Digest; diffId: Digest }> {
  return storeEntries(blobs, await diffUpperDir(dir));
}

export interface HostState {
  mounts: string;
  rootListing: string;
  files: string;
  hostname: string;
}

/** Mount points at or under `dirs` (other suites on this machine mount elsewhere, concurrently). */
export function mountsUnder(...dirs: string[]): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) =>
      (l.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))),
    )
    .filter((m) => dirs.some((d) => m === d || m.startsWith(`${d}/`)))
    .sort();
}

/** Host paths a sandbox leak would show up under (other test suites on this machine mount elsewhere). */
const WATCHED_EXACT = ['/', '/proc', '/sys', '/dev', '/dev/pts', '/dev/shm', '/tmp'];
const WATCHED_TREES = ['/etc', '/root', '/home', '/usr', '/bin', '/sbin', '/lib', '/var', '/run/secrets'];
const FOREIGN_TREES = ['/var/lib/containers', '/run/containers', '/var/lib/docker'];

/**
 * What a sandboxed command must not change on the host: the mount table (at the system paths and under
 * `dirs`, where our own rootfs and scratch dirs live), /, a few config files, the hostname.
 */
export function hostState(dirs: readonly string[] = []): HostState {
  const hash = (p: string): string => {
    try {
      return createHash('sha256').update(readFileSync(p)).digest('hex');
    } catch {
      return 'absent';
    }
  };
  const under = (m: string, d: string): boolean => m === d || m.startsWith(`${d}/`);
  // Other test files run podman and buildah at the same time, and their storage mounts come and go under
  // /var/lib/containers and /run/containers: those are theirs, not something a sandboxed command did.
  const foreign = (m: string): boolean => FOREIGN_TREES.some((d) => under(m, d));
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter(
      (m) =>
        !foreign(m) &&
        (WATCHED_EXACT.includes(m) ||
          WATCHED_TREES.some((d) => under(m, d)) ||
          dirs.some((d) => under(m, d))),
    )
    .sort()
    .join('\n');
  return {
    mounts,
    rootListing: readdirSync('/').sort().join(' '),
    files: ['/etc/hosts', '/etc/resolv.conf', '/etc/passwd', '/etc/hostname'].map(hash).join(' '),
    hostname: os.hostname(),
  };
}
