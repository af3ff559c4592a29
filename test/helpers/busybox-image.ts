/**
 * Images to run and inspect without a registry: a build context whose `rootfs/` is a minimal busybox system (the
 * host's static busybox with a few applets, a root and an `app` user), built `FROM scratch` with `COPY rootfs/ /`,
 * and docker's measure of a layer's size (moby's `directory.Size` over what the layer unpacks to), to check the
 * sizes tsbuild prints against.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { writeTree } from './e2e';

const APPLETS = ['sh', 'echo', 'cat', 'ls', 'mkdir', 'head', 'id', 'pwd', 'env', 'true'];

/** Writes the busybox rootfs and `dockerfile` into the (empty) directory `ctx`. */
export async function writeBusyboxContext(ctx: string, dockerfile: string): Promise<void> {
  const bin = path.join(ctx, 'rootfs', 'bin');
  await fsp.mkdir(bin, { recursive: true });
  await fsp.copyFile('/bin/busybox', path.join(bin, 'busybox'));
  await fsp.chmod(path.join(bin, 'busybox'), 0o755);
  for (const applet of APPLETS) await fsp.symlink('busybox', path.join(bin, applet));
  await writeTree(ctx, {
    Dockerfile: dockerfile,
    'rootfs/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n',
    'rootfs/etc/group': 'root:x:0:\napp:x:1000:\n',
    'rootfs/tmp/': '',
  });
}

/** moby's `directory.Size`: every non-directory's size (symlinks: their target's length), each inode once. */
export async function dockerDirSize(dir: string, seen = new Set<string>()): Promise<number> {
  let total = 0;
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    const st = await fsp.lstat(p);
    if (st.isDirectory()) {
      total += await dockerDirSize(p, seen);
      continue;
    }
    const id = `${st.dev}:${st.ino}`;
    if (st.size === 0 || seen.has(id)) continue;
    seen.add(id);
    total += st.size;
  }
  return total;
}

/**
 * docker's size of one layer of an image in store `root`: its snapshot dir measured when there is one, else its
 * blob unpacked by GNU tar into `scratch` and measured.
 */
export async function dockerLayerSize(
  root: string,
  layer: { digest: string; diffId: string },
  scratch: string,
): Promise<number> {
  const snapshot = path.join(root, 'snapshots', layer.diffId.slice(7));
  if (existsSync(snapshot)) return dockerDirSize(snapshot);
  const out = path.join(scratch, layer.diffId.slice(7, 19));
  await fsp.mkdir(out, { recursive: true });
  execFileSync('tar', ['-xf', path.join(root, 'blobs', 'sha256', layer.digest.slice(7)), '-C', out]);
  return dockerDirSize(out);
}

/** go-units `HumanSize`, as docker prints sizes. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB'];
  let n = bytes;
  let u = 0;
  while (n >= 1000 && u < units.length - 1) {
    n /= 1000;
    u++;
  }
  return `${Number(n.toPrecision(3))}${units[u]}`;
}
