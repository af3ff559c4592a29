/**
 * Faults between us and a real registry: a 500 on one blob, a body cut short, a wrong digest served, an
 * upload dropped half way, the registry stopped mid-push. Each either succeeds on retry or fails with one
 * clear line — and the local store is left consistent: every blob verifies, no temp files remain.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BlobStore } from '../../../src/store/blob-store';
import { ImageStore } from '../../../src/image/image-store';
import { parseManifest, type Descriptor } from '../../../src/image/oci-types';
import { RegistryClient } from '../../../src/image/registry/client';
import { RegistryError } from '../../../src/image/registry/errors';
import { pullImage } from '../../../src/image/registry/pull';
import { pushImage } from '../../../src/image/registry/push';
import { busyboxLayout, startRegistry, tempDir, type TestRegistry } from '../../helpers/registry';
import { startFaultProxy, type FaultProxy } from './fault-proxy';
import { seedRegistry } from './support';

const AMD64 = { os: 'linux', architecture: 'amd64' };

let registry: TestRegistry;
let proxy: FaultProxy;
let layer: Descriptor;
let manifestDigest: string;
let root: string;
const temps: string[] = [];
const retries: string[] = [];
const client = (): RegistryClient =>
  RegistryClient.anonymous({
    retry: { baseDelayMs: 10, maxDelayMs: 50 },
    onRetry: (operation, n) => retries.push(`${operation}: ${n.error.message}`),
  });

beforeAll(async () => {
  registry = await startRegistry();
  await seedRegistry(registry.host, await busyboxLayout());
  proxy = await startFaultProxy(registry.port);
  const scout = await tempDir('faults-scout');
  temps.push(scout);
  const pulled = await pullImage(scout, `${registry.host}/busybox:latest`, AMD64, { client: client() });
  manifestDigest = pulled.manifest.digest;
  layer = parseManifest(await new BlobStore(scout).readAll(pulled.manifest.digest)).layers[0] as Descriptor;
});

afterAll(async () => {
  await proxy?.close();
  await registry?.stop();
  for (const dir of temps) await fsp.rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  root = await tempDir('faults-root');
  temps.push(root);
  proxy.rule = undefined;
  proxy.seen.length = 0;
  retries.length = 0;
});

/** What `tsbuild cache check` would say: every blob hashes to its name and no temp file is left over. */
async function expectConsistent(store: BlobStore): Promise<void> {
  for (const digest of await store.list()) await store.verify(digest);
  expect(await fsp.readdir(path.join(store.root, 'tmp')).catch(() => [])).toEqual([]);
}

/** A rule that fires `fault` on the first `times` requests matching. */
function once(
  match: (method: string, url: string) => boolean,
  fault: NonNullable<ReturnType<NonNullable<FaultProxy['rule']>>>,
  times = 1,
): FaultProxy['rule'] {
  let left = times;
  return (method, url) => {
    if (left > 0 && match(method, url)) {
      left--;
      return fault;
    }
    return undefined;
  };
}

const isLayerGet = (method: string, url: string): boolean =>
  method === 'GET' && url.includes(`/blobs/${layer.digest}`);

describe('registry faults', () => {
  it('a 500 on one blob succeeds on retry', async () => {
    proxy.rule = once(isLayerGet, 'status-500');
    const result = await pullImage(root, `${proxy.host}/busybox:latest`, AMD64, { client: client() });
    expect(result.manifest.digest).toBe(manifestDigest);
    expect(proxy.seen.filter((s) => s === `GET /v2/busybox/blobs/${layer.digest}`)).toHaveLength(2);
    expect(retries).toEqual([
      `blob ${layer.digest}: ${proxy.host} answered HTTP 500 to /v2/busybox/blobs/${layer.digest}: injected failure`,
    ]);
    await expectConsistent(new BlobStore(root));
  });

  it('a download cut short is fetched again, and nothing partial is kept', async () => {
    proxy.rule = once(isLayerGet, 'truncate-body');
    await pullImage(root, `${proxy.host}/busybox:latest`, AMD64, { client: client() });
    expect(retries).toHaveLength(1);
    const store = new BlobStore(root);
    await store.verify(layer.digest);
    await expectConsistent(store);
  });

  it.each(['reset-after-headers', 'reset-mid-body'] as const)(
    'a connection %s is retried like any other failure, never an unhandled error',
    async (fault) => {
      proxy.rule = once(isLayerGet, fault, 2);
      await pullImage(root, `${proxy.host}/busybox:latest`, AMD64, { client: client() });
      expect(retries).toHaveLength(2);
      expect(retries[0]).toMatch(/ECONNRESET|aborted|socket hang up/);
      const store = new BlobStore(root);
      await store.verify(layer.digest);
      await expectConsistent(store);
    },
  );

  it('a server dripping a blob a byte at a time is given up at a deadline, retried, and fails in one line', async () => {
    proxy.rule = (method, url) => (isLayerGet(method, url) ? 'drip' : undefined);
    const slow = RegistryClient.anonymous({
      retry: { baseDelayMs: 10, maxDelayMs: 50 },
      blobDeadlineGraceMs: 300,
      minBytesPerSecond: 1e9,
      onRetry: (operation, n) => retries.push(`${operation}: ${n.error.message}`),
    });
    const started = Date.now();
    await expect(pullImage(root, `${proxy.host}/busybox:latest`, AMD64, { client: slow })).rejects.toThrow(
      /not downloaded within 1 s/,
    );
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(retries.length).toBeGreaterThan(0);
    await expectConsistent(new BlobStore(root));
  });

  it('gives up after a bounded number of 500s with one clear line', async () => {
    proxy.rule = (method, url) => (isLayerGet(method, url) ? 'status-500' : undefined);
    const err = await pullImage(root, `${proxy.host}/busybox:latest`, AMD64, { client: client() }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toBe(
      `${proxy.host} answered HTTP 500 to /v2/busybox/blobs/${layer.digest}: injected failure (gave up after 4 attempts)`,
    );
    expect(await new ImageStore(root).list()).toEqual([]);
    await expectConsistent(new BlobStore(root));
  });

  it('a blob with the wrong digest is refused and nothing enters the store', async () => {
    proxy.rule = (method, url) => (isLayerGet(method, url) ? 'corrupt-body' : undefined);
    const err = await pullImage(root, `${proxy.host}/busybox:latest`, AMD64, { client: client() }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^blob ${layer.digest} from ${proxy.host}/busybox is not what its digest says \\(blob digest mismatch: ` +
          `expected ${layer.digest}, got sha256:[a-f0-9]{64}\\); nothing was stored$`,
      ),
    );
    const store = new BlobStore(root);
    expect(await store.has(layer.digest)).toBe(false);
    expect(await new ImageStore(root).list()).toEqual([]);
    await expectConsistent(store);
  });

  it('a manifest whose content does not match Docker-Content-Digest is refused', async () => {
    proxy.rule = (method, url) =>
      method === 'GET' && url.includes('/manifests/') ? 'corrupt-body' : undefined;
    await expect(
      pullImage(root, `${proxy.host}/busybox:latest`, AMD64, { client: client() }),
    ).rejects.toThrow(
      new RegExp(
        `^manifest ${proxy.host}/busybox:latest: Docker-Content-Digest says ${manifestDigest} but the content hashes to sha256:`,
      ),
    );
    await expectConsistent(new BlobStore(root));
  });

  it('an upload dropped half way is retried from the start and lands intact', async () => {
    await pullImage(root, `${registry.host}/busybox:latest`, AMD64, { client: client() });
    // Only the layer's upload (its digest is in the PUT's query): the small config blob is uploaded at the same
    // time and a "half way" drop of a few hundred bytes would race with its completion.
    const layerHex = layer.digest.slice('sha256:'.length);
    proxy.rule = once(
      (method, url) => method === 'PUT' && url.includes('/blobs/uploads/') && url.includes(layerHex),
      'drop-upload',
    );
    // Pushing to a new repository through the proxy: the layer must be uploaded (no mount source on "proxy").
    const result = await pushImage(
      root,
      `${registry.host}/busybox:latest`,
      `${proxy.host}/dropped/busybox:1`,
      {
        client: client(),
      },
    );
    expect(result.digest).toBe(manifestDigest);
    expect(retries).toHaveLength(1);
    const check = await tempDir('faults-check');
    temps.push(check);
    const back = await pullImage(check, `${registry.host}/dropped/busybox:1`, AMD64, { client: client() });
    expect(back.manifest.digest).toBe(manifestDigest);
    await expectConsistent(new BlobStore(check));
  });

  it('a registry stopped mid-push gives a clear error and leaves the store as it was', async () => {
    const doomed = await startRegistry();
    try {
      await pullImage(root, `${registry.host}/busybox:latest`, AMD64, { client: client() });
      const before = await new BlobStore(root).list();
      let stopping: Promise<void> | undefined;
      const err = await pushImage(root, `${registry.host}/busybox:latest`, `${doomed.host}/app:1`, {
        client: client(),
        concurrency: 1,
        onEvent: (e) => {
          if (e.type === 'blob' && e.status === 'uploading' && stopping === undefined)
            stopping = doomed.crash();
        },
      }).catch((e: unknown) => e);
      await stopping;
      expect(err).toBeInstanceOf(RegistryError);
      expect((err as Error).message).toMatch(
        new RegExp(`${doomed.host}.*ECONNREFUSED.*\\(gave up after 4 attempts\\)$`),
      );
      expect((err as Error).message).not.toContain('\n');
      expect(await new BlobStore(root).list()).toEqual(before);
      await expectConsistent(new BlobStore(root));
    } finally {
      await doomed.stop();
    }
  });
});
