/**
 * `--load`: the built image into a local container engine, so `docker run myapp` (or `podman run`) works at once.
 * Docker gets a docker archive streamed to its API, without the layers it already holds under the same name (a
 * rebuild after a one-file edit sends the changed layers only); podman gets the whole archive on `podman load`'s
 * standard input. Neither writes a temp file.
 */
import { spawn } from 'node:child_process';
import { UserError } from '../../errors';
import type { BlobStore } from '../../store/blob-store';
import { dockerArchiveTar, sharedChain } from '../docker-archive';
import { ImageFormatError } from '../errors';
import type { Descriptor } from '../oci-types';
import { DockerEngine } from './docker-engine';

export type Engine = 'docker' | 'podman';

export interface LoadResult {
  /** What the engine said it loaded (`Loaded image: docker.io/library/app:latest`). */
  loaded: string[];
  /** Layers sent, of the image's. */
  layersSent: number;
  layers: number;
}

export async function loadIntoEngine(
  store: BlobStore,
  manifest: Descriptor,
  diffIds: readonly string[],
  tags: readonly string[],
  engine: Engine,
  docker: DockerEngine = new DockerEngine(),
): Promise<LoadResult> {
  if (engine === 'podman') {
    const loaded = await podmanLoad(dockerArchiveTar(store, [{ manifest, tags }]));
    return { loaded, layersSent: diffIds.length, layers: diffIds.length };
  }
  const [name] = tags;
  const has = name !== undefined ? ((await docker.imageDiffIds(name)) ?? []) : [];
  const shared = sharedChain(diffIds, has);
  const loaded = await docker.load(dockerArchiveTar(store, [{ manifest, tags }], { engineHas: has }));
  return { loaded, layersSent: diffIds.length - shared, layers: diffIds.length };
}

async function podmanLoad(archive: NodeJS.ReadableStream): Promise<string[]> {
  const child = spawn('podman', ['load'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'ENOENT'
          ? new UserError('--load=podman: podman is not installed (apt-get install podman)')
          : e,
      ),
    );
    child.on('close', (code) => resolve(code ?? -1));
  });
  // podman closing its input early (it failed) is reported by its exit status, not as a write error here.
  child.stdin.on('error', () => undefined);
  // The archive failing part-way (a damaged blob, say) stops podman: a half archive must not load.
  let archiveError: unknown;
  archive.on('error', (e) => {
    archiveError = e;
    child.kill();
  });
  archive.pipe(child.stdin);
  const code = await exited;
  if (archiveError !== undefined) throw archiveError;
  if (code !== 0) {
    const why = Buffer.concat(err).toString('utf8').trim().split('\n').pop() ?? '';
    throw new ImageFormatError(`--load=podman: podman load exited ${code}: ${why}`);
  }
  return Buffer.concat(out)
    .toString('utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('Loaded image'));
}
