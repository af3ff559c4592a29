/**
 * Copy sources and `--context-modes`: a build context's group/other write bits are cleared (normalize, the
 * default in a build) so a checkout made under umask 0002 keys and copies exactly like one made under 0022;
 * `preserve` keeps the modes on disk. Stage and archive sources are never touched.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { ContextEntry } from '../../../../src/context';
import { sourceFromDirectory, sourceFromEntries } from '../../../../src/executor/ops/copy/source-fs';
import { BlobStore } from '../../../../src/store/blob-store';
import { decompressLayer } from '../../../../src/layers/compress';
import { readTar } from '../../../../src/layers/tar-reader';
import { snapshotLayerTar } from '../../../../src/layers/snapshots';
import type { BuildEvent } from '../../../../src/events';
import { runBuild, tempDir, writeFiles } from '../../../helpers/build';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => fsp.rm(d, { recursive: true, force: true })));
});

const entry = (p: string, type: ContextEntry['type'], mode: number): ContextEntry => ({
  path: p,
  type,
  mode,
  uid: 1000,
  gid: 1000,
  size: 0,
  ...(type === 'symlink' ? { linkTarget: 'target' } : {}),
});

/** What a checkout under umask 0002 looks like, with the special bits that must survive. */
const LAPTOP: ContextEntry[] = [
  entry('a.txt', 'file', 0o664),
  entry('bin', 'dir', 0o775),
  entry('bin/run.sh', 'file', 0o775),
  entry('bin/suid', 'file', 0o4777),
  entry('shared', 'dir', 0o2775),
  entry('tmp', 'dir', 0o1777),
  entry('link', 'symlink', 0o777),
  entry('private', 'file', 0o600),
  entry('plain', 'file', 0o644),
  entry('pipe', 'fifo', 0o666),
];

const modes = (src: ReturnType<typeof sourceFromEntries>): Record<string, string> =>
  Object.fromEntries(LAPTOP.map((e) => [e.path, (src.entry(e.path)?.mode ?? -1).toString(8)]));

describe('sourceFromEntries and --context-modes', () => {
  test('normalize clears only group/other write bits of a context, and counts what it changed', () => {
    const src = sourceFromEntries('/ctx', LAPTOP, true, 'build context', { modes: 'normalize' });
    expect(modes(src)).toEqual({
      'a.txt': '644',
      bin: '755',
      'bin/run.sh': '755',
      'bin/suid': '4755',
      shared: '2755',
      tmp: '1755',
      // A symlink's mode is 0777 on Linux whatever the umask; it is left as found.
      link: '777',
      private: '600',
      plain: '644',
      pipe: '644',
    });
    expect(src.normalizedModes).toBe(7);
    // Everything but the mode is kept, and the tree still resolves paths.
    expect(src.entry('bin/run.sh')).toEqual({ ...LAPTOP[2], mode: 0o755 });
    expect(src.tree.get('link')).toMatchObject({ type: 'symlink', linkTarget: 'target' });
    expect([...src.tree.descendants('bin')].map((n) => n.path)).toEqual(['bin/run.sh', 'bin/suid']);
    // The caller's entries are not modified.
    expect(LAPTOP[0].mode).toBe(0o664);
  });

  test('preserve, and no option at all, keep the modes on disk', () => {
    for (const options of [{ modes: 'preserve' as const }, {}]) {
      const src = sourceFromEntries('/ctx', LAPTOP, true, 'build context', options);
      expect(modes(src)).toEqual(Object.fromEntries(LAPTOP.map((e) => [e.path, e.mode.toString(8)])));
      expect(src.normalizedModes).toBe(0);
    }
  });

  test('a stage (not the context) keeps its modes even when normalize is asked for', async () => {
    const src = sourceFromEntries('/rootfs', LAPTOP, false, 'stage build', { modes: 'normalize' });
    expect(src.entry('a.txt')?.mode).toBe(0o664);
    expect(src.normalizedModes).toBe(0);

    const dir = await tempDir('source-fs-stage');
    dirs.push(dir);
    await writeFiles(dir, { 'etc/shared.conf': 'x\n' });
    await fsp.chmod(path.join(dir, 'etc/shared.conf'), 0o664);
    const stage = await sourceFromDirectory(dir, 'stage build');
    expect(stage.entry('etc/shared.conf')?.mode).toBe(0o664);
    expect(stage.normalizedModes).toBe(0);
  });
});

describe('a build of a context checked out under umask 0002', () => {
  /** The same files, with the modes a checkout gets under `umask` (chmod'ed, whatever this process's umask). */
  async function checkout(umask: 0o002 | 0o022): Promise<string> {
    const ctx = await tempDir(`source-fs-${umask.toString(8)}`);
    dirs.push(ctx);
    await writeFiles(ctx, {
      Dockerfile: 'FROM scratch\nCOPY . /app/\n',
      'src/a.txt': 'a\n',
      'run.sh': 'echo hi\n',
    });
    const file = 0o666 & ~umask;
    const exec = 0o777 & ~umask;
    for (const f of ['Dockerfile', 'src/a.txt']) await fsp.chmod(path.join(ctx, f), file);
    await fsp.chmod(path.join(ctx, 'run.sh'), exec);
    await fsp.chmod(path.join(ctx, 'src'), exec);
    return ctx;
  }

  const contextEvent = (events: BuildEvent[]): BuildEvent | undefined =>
    events.find((e) => e.type === 'context-modes');

  test('normalize (the default): the layer has 0644/0755, and a 0022 checkout hits the same records', async () => {
    const root = await tempDir('source-fs-store');
    dirs.push(root);
    const laptop = await runBuild(await checkout(0o002), root);
    expect(contextEvent(laptop.events)).toEqual({
      type: 'context-modes',
      policy: 'normalize',
      normalized: 4,
    });
    const layer = await layerModes(root, laptop.image.layers[0].digest);
    expect(layer).toEqual({
      app: '755',
      'app/Dockerfile': '644',
      'app/run.sh': '755',
      'app/src': '755',
      'app/src/a.txt': '644',
    });

    const ci = await runBuild(await checkout(0o022), root);
    expect(contextEvent(ci.events)).toEqual({ type: 'context-modes', policy: 'normalize', normalized: 0 });
    expect(ci.steps.map((s) => s[1])).toEqual(['hit', 'hit']);
    expect(ci.image.configDigest).toBe(laptop.image.configDigest);
  });

  test('preserve keys on the modes on disk: the layer keeps 0664, and the 0022 checkout misses', async () => {
    const root = await tempDir('source-fs-store');
    dirs.push(root);
    const laptop = await runBuild(await checkout(0o002), root, { contextModes: 'preserve' });
    expect(contextEvent(laptop.events)).toEqual({ type: 'context-modes', policy: 'preserve', normalized: 0 });
    const layer = await layerModes(root, laptop.image.layers[0].digest);
    expect(layer['app/src/a.txt']).toBe('664');
    expect(layer['app/src']).toBe('775');

    const ci = await runBuild(await checkout(0o022), root, { contextModes: 'preserve' });
    expect(ci.steps.map((s) => s[1])).toEqual(['hit', 'miss']);
    expect(ci.image.configDigest).not.toBe(laptop.image.configDigest);
  });

  test('a context with no group/other write bits builds the same image under either policy', async () => {
    const root = await tempDir('source-fs-store');
    dirs.push(root);
    const ctx = await checkout(0o022);
    const normalized = await runBuild(ctx, root);
    const preserved = await runBuild(ctx, root, { contextModes: 'preserve' });
    expect(preserved.steps.map((s) => s[1])).toEqual(['hit', 'hit']);
    expect(preserved.image.configDigest).toBe(normalized.image.configDigest);
  });
});

/** Path → octal permission bits of every entry of a stored layer. */
/** The modes in a layer's tar: from its blob, or (a layer kept as its snapshot) the tar made of the snapshot. */
async function layerModes(root: string, digest: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const d = digest as `sha256:${string}`;
  const blobs = new BlobStore(root);
  const tar = (await blobs.has(d)) ? decompressLayer(blobs.open(d)) : await snapshotLayerTar(root, d);
  for await (const { header } of readTar(tar)) {
    out[header.path.replace(/\/$/, '')] = (header.mode & 0o7777).toString(8);
  }
  return out;
}
