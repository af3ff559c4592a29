/**
 * Client behaviour that a well-behaved local registry never shows, against small fake servers: insecure
 * registries without TLS, redirects to another origin, 429 with Retry-After, schema 1 manifests.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BlobStore } from '../../../src/store/blob-store';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sha256Digest } from '../../../src/store/digest';
import { MediaType } from '../../../src/image/oci-types';
import { RegistryClient } from '../../../src/image/registry/client';
import { RegistryError } from '../../../src/image/registry/errors';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
const servers: http.Server[] = [];

async function serve(handler: Handler, host = '127.0.0.1'): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return `${host}:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

const MANIFEST = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: sha256Digest('{}'), size: 2 },
    layers: [],
  }),
);

function manifestServer(): Handler {
  return (req, res) => {
    res.writeHead(200, {
      'Content-Type': MediaType.ociManifest,
      'Docker-Content-Digest': sha256Digest(MANIFEST),
      'Content-Length': MANIFEST.length,
    });
    res.end(req.method === 'HEAD' ? undefined : MANIFEST);
  };
}

const quick = { retry: { baseDelayMs: 1, maxDelayMs: 5 } };

/**
 * An address of this machine outside 127.0.0.0/8 (which, with localhost and ::1, speaks plain HTTP by default):
 * where a registry is reached over HTTPS unless it is listed with --insecure-registry.
 */
function nonLoopbackAddress(): string {
  const found = Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal);
  if (!found) throw new Error('these tests need a network interface with an IPv4 address besides loopback');
  return found.address;
}

describe('RegistryClient', () => {
  it('falls back to plain HTTP for an --insecure-registry host without TLS', async () => {
    const host = await serve(manifestServer(), nonLoopbackAddress());
    const client = RegistryClient.anonymous({ ...quick, insecureRegistries: [host] });
    const fetched = await client.getManifest({ registry: host, path: 'x' }, 'latest');
    expect(fetched.descriptor.digest).toBe(sha256Digest(MANIFEST));
  });

  it('without --insecure-registry, says how to reach a plain-HTTP registry', async () => {
    const host = await serve(manifestServer(), nonLoopbackAddress());
    const err = await RegistryClient.anonymous(quick)
      .getManifest({ registry: host, path: 'x' }, 'latest')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toMatch(
      new RegExp(`TLS handshake failed .*; if ${host} serves plain HTTP, pass --insecure-registry ${host}$`),
    );
  });

  it('follows a blob redirect to another origin without our credentials', async () => {
    const blob = Buffer.from('layer bytes');
    const seen: (string | undefined)[] = [];
    const storage = await serve((req, res) => {
      seen.push(req.headers.authorization);
      res.end(blob);
    });
    const registry = await serve((req, res) => {
      if (req.headers.authorization === undefined) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="r"' });
        res.end();
        return;
      }
      res.writeHead(307, { Location: `http://${storage}/signed/blob?sig=1` });
      res.end();
    });
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-client-'));
    try {
      const client = new RegistryClient({
        ...quick,
        credentials: { get: async () => ({ username: 'u', password: 'p' }) },
      });
      const store = new BlobStore(root);
      const desc = { mediaType: MediaType.ociLayerGzip, digest: sha256Digest(blob), size: blob.length };
      await client.fetchBlob({ registry, path: 'x' }, desc, store);
      expect((await store.readAll(desc.digest)).equals(blob)).toBe(true);
      expect(seen).toEqual([undefined]);
    } finally {
      await fsp.rm(root, { recursive: true, force: true });
    }
  });

  it('waits and retries on 429 Too Many Requests', async () => {
    let calls = 0;
    const host = await serve((req, res) => {
      if (++calls === 1) {
        res.writeHead(429, { 'Retry-After': '0' });
        res.end();
        return;
      }
      manifestServer()(req, res);
    });
    const fetched = await RegistryClient.anonymous(quick).getManifest(
      { registry: host, path: 'x' },
      'latest',
    );
    expect(fetched.descriptor.size).toBe(MANIFEST.length);
    expect(calls).toBe(2);
  });

  it('refuses schema 1 manifests with a clear message', async () => {
    const host = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' });
      res.end(JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'old' }));
    });
    await expect(
      RegistryClient.anonymous(quick).getManifest({ registry: host, path: 'x' }, 'old'),
    ).rejects.toThrow(
      `manifest ${host}/x:old is a Docker schema 1 manifest, which is deprecated and not supported`,
    );
  });

  it('checks a manifest fetched by digest against that digest', async () => {
    const host = await serve(manifestServer());
    const wanted = `sha256:${'1'.repeat(64)}`;
    await expect(
      RegistryClient.anonymous(quick).getManifest({ registry: host, path: 'x' }, wanted),
    ).rejects.toThrow(
      `manifest ${host}/x@${wanted}: the registry sent content with digest ${sha256Digest(MANIFEST)}, not the one asked for`,
    );
  });

  it('infers the media type of a manifest served as plain JSON', async () => {
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] }));
    const host = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(index);
    });
    const fetched = await RegistryClient.anonymous(quick).getManifest(
      { registry: host, path: 'x' },
      'latest',
    );
    expect(fetched.descriptor.mediaType).toBe(MediaType.ociIndex);
  });
});
