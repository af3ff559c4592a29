/**
 * pushImage against a real registry, checked by the tools users have: skopeo inspects what we pushed and
 * podman pulls and runs it. Also: blobs the registry has are skipped, base layers are mounted from the
 * repository they were pulled from, big blobs go up in PATCH chunks, manifests by tag and by digest.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BlobStore } from '../../../src/store/blob-store';
import { assembleImage, layerDescriptor } from '../../../src/image/assemble';
import { ImageStore } from '../../../src/image/image-store';
import { MediaType, parseImageConfig, parseManifest, type Descriptor } from '../../../src/image/oci-types';
import { RegistryClient } from '../../../src/image/registry/client';
import { pullImage } from '../../../src/image/registry/pull';
import { pushDescriptor, pushImage, type PushEvent } from '../../../src/image/registry/push';
import { storeLayer } from '../../../src/layers/compress';
import { createLayerTar } from '../../../src/layers/tar-writer';
import {
  busyboxLayout,
  requireTool,
  run,
  sha256,
  startRegistry,
  tempDir,
  type TestRegistry,
} from '../../helpers/registry';
import { seedRegistry } from './support';

const AMD64 = { os: 'linux', architecture: 'amd64' };

let registry: TestRegistry;
let root: string;
let app: Descriptor;
const temps: string[] = [];
const client = (chunkSize?: number): RegistryClient =>
  RegistryClient.anonymous({ retry: { baseDelayMs: 10 }, chunkSize });

/** busybox + one layer with /hello.txt, CMD printing it: the image podman must run. */
async function buildApp(store: BlobStore, base: Descriptor, text: string): Promise<Descriptor> {
  const baseManifest = parseManifest(await store.readAll(base.digest));
  const baseConfig = parseImageConfig(await store.readAll(baseManifest.config.digest));
  const layer = await storeLayer(
    createLayerTar([{ type: 'file', path: 'hello.txt', content: Buffer.from(text), mtime: 1700000000 }]),
    store,
    { compression: 'gzip' },
  );
  const image = await assembleImage(
    store,
    {
      ...baseConfig,
      config: { ...baseConfig.config, Cmd: ['sh', '-c', 'cat /hello.txt'] },
      rootfs: { type: 'layers', diff_ids: [...baseConfig.rootfs.diff_ids, layer.diffId] },
      history: undefined,
    },
    [...baseManifest.layers, layerDescriptor(layer)],
  );
  return image.manifest;
}

beforeAll(async () => {
  requireTool('skopeo');
  requireTool('podman');
  registry = await startRegistry();
  await seedRegistry(registry.host, await busyboxLayout());
  root = await tempDir('push-root');
  temps.push(root);
  const base = await pullImage(root, `${registry.host}/busybox:latest`, AMD64, { client: client() });
  app = await buildApp(new BlobStore(root), base.manifest, 'hello from tsbuild\n');
  await new ImageStore(root).tag('app:1', app);
});

afterAll(async () => {
  await registry?.stop();
  for (const dir of temps) await fsp.rm(dir, { recursive: true, force: true });
});

function skopeoInspect(ref: string, raw = false): Promise<string> {
  return run('skopeo', ['inspect', '--tls-verify=false', ...(raw ? ['--raw'] : []), `docker://${ref}`]);
}

describe('pushImage', () => {
  it('pushes an image that skopeo inspects and podman pulls and runs', async () => {
    const events: PushEvent[] = [];
    const result = await pushImage(root, 'app:1', `${registry.host}/team/app:1`, {
      client: client(),
      onEvent: (e) => events.push(e),
    });
    expect(result).toEqual({
      name: `${registry.host}/team/app:1`,
      digest: app.digest,
      size: app.size,
      mediaType: MediaType.ociManifest,
    });
    const inspected = JSON.parse(await skopeoInspect(`${registry.host}/team/app:1`)) as {
      Digest: string;
      Layers: string[];
    };
    expect(inspected.Digest).toBe(app.digest);
    expect(inspected.Layers).toHaveLength(2);

    // The busybox layer came from the repository it was pulled from: mounted, not uploaded.
    const baseLayer = parseManifest(await new BlobStore(root).readAll(app.digest)).layers[0] as Descriptor;
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'blob', digest: baseLayer.digest, status: 'mounted', from: 'busybox' }),
    );
    expect(events.filter((e) => e.type === 'blob' && e.status === 'pushed')).toHaveLength(2); // config, new layer
    expect(events[events.length - 1]).toEqual({
      type: 'manifest',
      reference: '1',
      digest: app.digest,
      size: app.size,
    });

    const podmanDir = await tempDir('podman');
    temps.push(podmanDir);
    const podman = (...args: string[]): Promise<string> =>
      run('podman', [
        '--root',
        path.join(podmanDir, 'root'),
        '--runroot',
        path.join(podmanDir, 'run'),
        '--storage-driver',
        'vfs',
        ...args,
      ]);
    await podman('pull', '-q', '--tls-verify=false', `${registry.host}/team/app:1`);
    // runc, and rlimits below this machine's hard limits (see the report: crun refuses hybrid cgroups).
    const out = await podman(
      'run',
      '--rm',
      '--runtime',
      'runc',
      '--ulimit',
      'nofile=1024:1024',
      '--ulimit',
      'nproc=1024:1024',
      `${registry.host}/team/app:1`,
    );
    expect(out).toBe('hello from tsbuild\n');
  });

  it('skips every blob the registry already has', async () => {
    await pushImage(root, 'app:1', `${registry.host}/again/app:1`, { client: client() });
    const events: PushEvent[] = [];
    await pushImage(root, 'app:1', `${registry.host}/again/app:2`, {
      client: client(),
      onEvent: (e) => events.push(e),
    });
    const statuses = events.filter((e) => e.type === 'blob').map((e) => (e.type === 'blob' ? e.status : ''));
    expect(statuses).toEqual(['exists', 'exists', 'exists']);
    const raw = JSON.parse(await skopeoInspect(`${registry.host}/again/app:2`, true)) as {
      layers: unknown[];
    };
    expect(raw.layers).toHaveLength(2);
  });

  it('uploads blobs larger than the chunk size in PATCH chunks', async () => {
    const before = (await registry.requests()).length;
    // A store that knows no mount source for busybox's ~1 MB layer, so it must be uploaded.
    const other = await tempDir('push-chunk');
    temps.push(other);
    await pullImage(other, `${registry.host}/busybox:latest`, AMD64, { client: client() });
    const record = await new ImageStore(other).resolve(`${registry.host}/busybox:latest`);
    await new ImageStore(other).untag(`${registry.host}/busybox:latest`);
    await pushDescriptor(other, record?.target as Descriptor, `${registry.host}/chunky/busybox:1`, {
      client: client(64 * 1024),
    });
    const patches = (await registry.requests())
      .slice(before)
      .filter((r) => r.startsWith('PATCH /v2/chunky/'));
    expect(patches.length).toBeGreaterThan(10); // ~1 MB layer in 64 KiB chunks
    const inspected = JSON.parse(await skopeoInspect(`${registry.host}/chunky/busybox:1`)) as {
      Digest: string;
    };
    expect(inspected.Digest).toBe(record?.target.digest);
  });

  it('pushes a manifest by digest', async () => {
    const result = await pushDescriptor(root, app, `${registry.host}/bydigest/app@${app.digest}`, {
      client: client(),
    });
    expect(result.name).toBe(`${registry.host}/bydigest/app@${app.digest}`);
    // --raw: the repository has no tags, and plain inspect would list them.
    const raw = await skopeoInspect(`${registry.host}/bydigest/app@${app.digest}`, true);
    expect(sha256(raw)).toBe(app.digest);
  });

  it('refuses a digest reference that is not the image', async () => {
    const wrong = `sha256:${'0'.repeat(64)}`;
    await expect(
      pushImage(root, 'app:1', `${registry.host}/x/app@${wrong}`, { client: client() }),
    ).rejects.toThrow(`cannot push ${app.digest} as ${registry.host}/x/app@${wrong}: the digest differs`);
  });

  it('says so when the local image does not exist', async () => {
    await expect(pushImage(root, 'nope:1', `${registry.host}/nope:1`, { client: client() })).rejects.toThrow(
      'no such image: nope:1',
    );
  });
});
