import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { build, type BuildOptions, type BuiltImage } from '../../src/executor/build';
import type { BuildEvent } from '../../src/events';

/** A fresh temp directory, removed by the caller (or left for post-mortem under /tmp). */
export async function tempDir(prefix: string): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), `tsbuild-${prefix}-`));
}

/** Writes files (path → content) under `dir`, creating parents. */
export async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(dir, rel);
    await fsp.mkdir(path.dirname(abs), { recursive: true });
    await fsp.writeFile(abs, content);
  }
}

export interface BuildRun {
  image: BuiltImage;
  events: BuildEvent[];
  /** step-done events in Dockerfile order: [instruction, 'hit' | 'miss', reason]. */
  steps: [string, string, string | undefined][];
}

export async function runBuild(
  contextDir: string,
  root: string,
  extra: Partial<BuildOptions> = {},
): Promise<BuildRun> {
  const events: BuildEvent[] = [];
  const image = await build({
    root,
    contextDir,
    dockerfilePath: path.join(contextDir, 'Dockerfile'),
    dockerfileName: 'Dockerfile',
    buildArgs: new Map(),
    noCache: false,
    labels: new Map(),
    compression: 'gzip',
    resolveImage: async () => undefined,
    ...extra,
    // The caller may listen too; the run always collects every event.
    events: (e) => {
      events.push(e);
      extra.events?.(e);
    },
  });
  const steps = events
    .filter((e): e is Extract<BuildEvent, { type: 'step-done' }> => e.type === 'step-done')
    .sort((a, b) => a.step.stageIndex - b.step.stageIndex || a.step.index - b.step.index)
    .map((e): [string, string, string | undefined] => [e.step.instruction, e.cache, e.reason]);
  return { image, events, steps };
}

/**
 * The uncompressed tar of a layer in a store by digest: its blob, or — for a RUN layer kept as its snapshot
 * (digest = diff_id, no blob until an output needs one) — the tar of the snapshot.
 */
export async function openLayer(root: string, digest: string): Promise<AsyncIterable<Uint8Array>> {
  const { BlobStore } = await import('../../src/store/blob-store');
  const { decompressLayer } = await import('../../src/layers/compress');
  const { snapshotLayerTar } = await import('../../src/layers/snapshots');
  const d = digest as `sha256:${string}`;
  const blobs = new BlobStore(root);
  if (await blobs.has(d)) return decompressLayer(blobs.open(d));
  return snapshotLayerTar(root, d);
}

/** A context whose `rootfs/` is a minimal busybox system, so RUN has a shell without any registry. */
export async function busyboxContext(dockerfile: string): Promise<{ ctx: string; root: string }> {
  const ctx = await tempDir('ctx');
  const root = await tempDir('store');
  const bin = path.join(ctx, 'rootfs', 'bin');
  await fsp.mkdir(bin, { recursive: true });
  await fsp.copyFile('/bin/busybox', path.join(bin, 'busybox'));
  await fsp.chmod(path.join(bin, 'busybox'), 0o755);
  for (const applet of ['sh', 'echo', 'rm', 'mkdir', 'cat', 'ls', 'touch', 'chmod', 'mv']) {
    await fsp.symlink('busybox', path.join(bin, applet));
  }
  await writeFiles(ctx, {
    Dockerfile: dockerfile,
    'rootfs/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n',
    'rootfs/etc/group': 'root:x:0:\n',
  });
  return { ctx, root };
}
