/**
 * A client for the OCI distribution API (`/v2/…`): manifests by tag or digest, blobs in and out of the
 * local blob store, uploads (monolithic or chunked), cross-repository mounts. Every public method is one
 * retried operation: transient failures (5xx, 429, resets, refused connections) repeat the whole operation
 * with backoff, so a blob whose download broke half way is fetched again from the start.
 *
 * Nothing unverified enters the store: manifests are hashed before they are returned (and checked against
 * the digest asked for and the registry's `Docker-Content-Digest`), blobs stream into `BlobStore.put` with
 * their expected digest and size, which keeps nothing that does not match.
 *
 * Each request goes through `transport.ts` (credentials, scheme fallback, transient statuses); which manifest
 * media types are accepted and how a fetched one is typed is `manifest-media-type.ts`'s.
 */
import { Readable } from 'node:stream';
import type { BlobStore } from '../../store/blob-store';
import { isDigest, sha256Digest, type Digest } from '../../store/digest';
import { DigestMismatchError } from '../../store/errors';
import type { Descriptor } from '../oci-types';
import type { Scope } from './auth';
import { chunks, counting } from './byte-streams';
import { ANONYMOUS } from './credentials';
import { ManifestUnknownError, RegistryError } from './errors';
import type { RegistryEndpoint } from './hosts';
import { discard, header, readBytes, type HttpResponse } from './http';
import { MANIFEST_ACCEPT, MANIFEST_MEDIA_TYPES, manifestMediaType } from './manifest-media-type';
import { DEFAULT_RETRY_POLICY, withRetries, type RetryNotice, type RetryPolicy } from './retry';
import { RegistryTransport, unexpected, type RequestSpec, type TransportOptions } from './transport';

/** The transport's options (insecure registries, credentials, socket timeout, user agent) and the client's. */
export interface RegistryClientOptions extends TransportOptions {
  retry?: Partial<RetryPolicy>;
  /** Blobs larger than this are uploaded in PATCH chunks of this size (default 32 MiB). */
  chunkSize?: number;
  /**
   * The slowest a blob download may be on average before it is given up (and retried): its deadline is 60 s plus
   * its size at this rate (default 64 KiB/s), so a server dripping a byte now and then cannot hold a pull forever.
   */
  minBytesPerSecond?: number;
  /** The fixed part of that deadline (default 60 s; tests shorten it). */
  blobDeadlineGraceMs?: number;
  /** Told about each retry, e.g. to print "retrying in 0.5 s". */
  onRetry?: (operation: string, notice: RetryNotice) => void;
}

const DEFAULT_MIN_BYTES_PER_SECOND = 64 * 1024;

/** A repository on a registry: `{ registry: 'docker.io', path: 'library/busybox' }`. */
export interface Repository {
  registry: string;
  path: string;
}

export interface FetchedManifest {
  descriptor: Descriptor;
  bytes: Buffer;
}

export type BlobPushResult =
  { status: 'exists' } | { status: 'mounted'; from: string } | { status: 'uploaded' };

export interface PushBlobOptions {
  /** Repositories on the same registry that may hold the blob already: tried as cross-repository mounts. */
  mountFrom?: readonly string[];
  onBytes?: (sent: number) => void;
  /**
   * Makes the blob local when it must be uploaded and the store lacks it (a layer that stayed in an imported
   * cache): asked only after the registry said it has no such blob and no mount worked.
   */
  fetchMissing?: (desc: Descriptor) => Promise<void>;
}

/** The distribution spec lets registries refuse manifests over 4 MiB; nothing real comes close. */
const MAX_MANIFEST_BYTES = 4 << 20;
const DEFAULT_CHUNK_SIZE = 32 << 20;
const MAX_MOUNT_CANDIDATES = 3;

export class RegistryClient {
  private readonly transport: RegistryTransport;
  private readonly policy: RetryPolicy;
  readonly chunkSize: number;

  constructor(private readonly options: RegistryClientOptions = {}) {
    this.transport = new RegistryTransport(options);
    this.policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  }

  /** A client that sends no credentials (for tests and for registries that must be reached anonymously). */
  static anonymous(options: Omit<RegistryClientOptions, 'credentials'> = {}): RegistryClient {
    return new RegistryClient({ ...options, credentials: ANONYMOUS });
  }

  endpoint(registry: string): RegistryEndpoint {
    return this.transport.endpoint(registry);
  }

  // ---- manifests ---------------------------------------------------------------------------------------

  /** The descriptor a tag or digest resolves to (HEAD); undefined when the registry has none or does not say. */
  async headManifest(repo: Repository, reference: string): Promise<Descriptor | undefined> {
    return this.retrying(`manifest ${refName(repo, reference)}`, async () => {
      const res = await this.request(repo, {
        method: 'HEAD',
        path: `${repo.path}/manifests/${reference}`,
        headers: { Accept: MANIFEST_ACCEPT },
        scopes: [pullScope(repo)],
      });
      discard(res);
      if (res.status === 404) return undefined;
      if (res.status !== 200) throw await unexpected(res, `HEAD manifest ${refName(repo, reference)}`);
      const digest = header(res, 'docker-content-digest');
      const mediaType = contentType(res);
      const size = Number(header(res, 'content-length'));
      if (
        digest === undefined ||
        !isDigest(digest) ||
        mediaType === undefined ||
        !MANIFEST_MEDIA_TYPES.includes(mediaType)
      ) {
        return undefined;
      }
      return { mediaType, digest, size: Number.isSafeInteger(size) ? size : 0 };
    });
  }

  /** A manifest or index by tag or digest, its bytes verified (see the module comment). */
  async getManifest(repo: Repository, reference: string): Promise<FetchedManifest> {
    const name = refName(repo, reference);
    return this.retrying(`manifest ${name}`, async () => {
      const res = await this.request(repo, {
        method: 'GET',
        path: `${repo.path}/manifests/${reference}`,
        headers: { Accept: MANIFEST_ACCEPT },
        scopes: [pullScope(repo)],
      });
      if (res.status === 404) {
        discard(res);
        throw new ManifestUnknownError(name);
      }
      if (res.status !== 200) throw await unexpected(res, `manifest ${name}`);
      let bytes: Buffer;
      try {
        bytes = await readBytes(res.body, MAX_MANIFEST_BYTES);
      } catch (err) {
        if (err instanceof RegistryError && !err.retryable)
          throw new RegistryError(`manifest ${name}: ${err.message}`);
        throw err;
      }
      const digest = sha256Digest(bytes);
      if (reference.includes(':')) {
        if (!reference.startsWith('sha256:')) {
          throw new RegistryError(`manifest ${name}: only sha256 digests are supported`);
        }
        if (digest !== reference) {
          throw new RegistryError(
            `manifest ${name}: the registry sent content with digest ${digest}, not the one asked for`,
          );
        }
      }
      const claimed = header(res, 'docker-content-digest');
      if (claimed !== undefined && claimed.startsWith('sha256:') && claimed !== digest) {
        throw new RegistryError(
          `manifest ${name}: Docker-Content-Digest says ${claimed} but the content hashes to ${digest}`,
        );
      }
      const mediaType = manifestMediaType(contentType(res), bytes, name);
      return { descriptor: { mediaType, digest, size: bytes.length }, bytes };
    });
  }

  /** PUT a manifest (or index) under a tag or its digest; returns the digest the registry confirmed. */
  async putManifest(repo: Repository, reference: string, bytes: Buffer, mediaType: string): Promise<Digest> {
    const digest = sha256Digest(bytes);
    const name = refName(repo, reference);
    if (reference.includes(':') && reference !== digest) {
      throw new RegistryError(`cannot push manifest ${digest} as ${name}: the digest differs`);
    }
    return this.retrying(`manifest ${name}`, async () => {
      const res = await this.request(repo, {
        method: 'PUT',
        path: `${repo.path}/manifests/${reference}`,
        headers: { 'Content-Type': mediaType },
        body: bytes,
        scopes: [pushScope(repo)],
      });
      if (res.status !== 201 && res.status !== 200) throw await unexpected(res, `PUT manifest ${name}`);
      discard(res);
      const confirmed = header(res, 'docker-content-digest');
      if (confirmed !== undefined && confirmed !== digest) {
        throw new RegistryError(`PUT manifest ${name}: the registry stored ${confirmed}, expected ${digest}`);
      }
      return digest;
    });
  }

  // ---- blobs -------------------------------------------------------------------------------------------

  async hasBlob(repo: Repository, digest: Digest): Promise<boolean> {
    return this.retrying(`blob ${digest}`, () => this.headBlob(repo, digest));
  }

  /** Download a blob into the store, verified against the descriptor's digest and size. */
  async fetchBlob(
    repo: Repository,
    desc: Descriptor,
    store: BlobStore,
    onBytes?: (received: number) => void,
  ): Promise<void> {
    if (await store.has(desc.digest)) return;
    const where = `${repo.registry}/${repo.path}`;
    await this.retrying(`blob ${desc.digest}`, async () => {
      const res = await this.request(repo, {
        method: 'GET',
        path: `${repo.path}/blobs/${desc.digest}`,
        scopes: [pullScope(repo)],
      });
      if (res.status === 404) {
        discard(res);
        throw new RegistryError(`blob ${desc.digest} not found in ${where}`);
      }
      if (res.status !== 200) throw await unexpected(res, `blob ${desc.digest} from ${where}`);
      const rate = this.options.minBytesPerSecond ?? DEFAULT_MIN_BYTES_PER_SECOND;
      const deadlineMs = (this.options.blobDeadlineGraceMs ?? 60_000) + (desc.size / rate) * 1000;
      const deadline = setTimeout(() => {
        res.body.destroy(
          new RegistryError(
            `blob ${desc.digest} from ${where}: not downloaded within ${Math.ceil(deadlineMs / 1000)} s`,
            { retryable: true },
          ),
        );
      }, deadlineMs);
      try {
        await store.put(counting(res.body, onBytes), {
          expectedDigest: desc.digest,
          expectedSize: desc.size,
        });
      } catch (err) {
        if (err instanceof DigestMismatchError) {
          throw new RegistryError(
            `blob ${desc.digest} from ${where} is not what its digest says (${err.message}); nothing was stored`,
          );
        }
        throw err;
      } finally {
        clearTimeout(deadline);
      }
    });
  }

  /**
   * Make the registry hold a blob from the store: nothing to do when it has it, a cross-repository mount
   * when one of `mountFrom` has it, else an upload (one PUT, or PATCH chunks for blobs over `chunkSize`).
   */
  async pushBlob(
    repo: Repository,
    desc: Descriptor,
    store: BlobStore,
    options: PushBlobOptions = {},
  ): Promise<BlobPushResult> {
    const checkLocalSize = async (): Promise<void> => {
      const size = await store.size(desc.digest);
      if (size !== desc.size) {
        throw new RegistryError(
          `blob ${desc.digest} is ${size} bytes in the store but ${desc.size} in its manifest`,
        );
      }
    };
    const local = options.fetchMissing === undefined || (await store.has(desc.digest));
    if (local) await checkLocalSize();
    return this.retrying(`blob ${desc.digest}`, async () => {
      if (await this.headBlob(repo, desc.digest)) return { status: 'exists' as const };
      let location: URL | undefined;
      const candidates = [...new Set(options.mountFrom ?? [])]
        .filter((r) => r !== repo.path)
        .slice(0, MAX_MOUNT_CANDIDATES);
      for (const from of candidates) {
        const res = await this.request(repo, {
          method: 'POST',
          path: `${repo.path}/blobs/uploads/`,
          query: { mount: desc.digest, from },
          scopes: [pushScope(repo), { repository: from, actions: ['pull'] }],
        });
        discard(res);
        if (res.status === 201) return { status: 'mounted' as const, from };
        // 202: the registry could not mount and opened an ordinary upload instead; use the last one.
        if (res.status !== 202) throw await unexpected(res, `mount of ${desc.digest} from ${from}`);
        location = uploadLocation(res);
      }
      if (location === undefined) {
        const res = await this.request(repo, {
          method: 'POST',
          path: `${repo.path}/blobs/uploads/`,
          scopes: [pushScope(repo)],
        });
        if (res.status !== 202)
          throw await unexpected(res, `upload of ${desc.digest} to ${repo.registry}/${repo.path}`);
        discard(res);
        location = uploadLocation(res);
      }
      if (!local && !(await store.has(desc.digest))) {
        await options.fetchMissing?.(desc);
        await checkLocalSize();
      }
      if (desc.size > this.chunkSize)
        location = await this.uploadChunks(repo, location, desc, store, options.onBytes);
      await this.finishUpload(repo, location, desc, store, options.onBytes);
      return { status: 'uploaded' as const };
    });
  }

  private async headBlob(repo: Repository, digest: Digest): Promise<boolean> {
    const res = await this.request(repo, {
      method: 'HEAD',
      path: `${repo.path}/blobs/${digest}`,
      scopes: [pullScope(repo)],
    });
    discard(res);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await unexpected(res, `HEAD blob ${digest} in ${repo.registry}/${repo.path}`);
  }

  /** PATCH the blob in chunks of `chunkSize`; returns the location to finish the upload at. */
  private async uploadChunks(
    repo: Repository,
    start: URL,
    desc: Descriptor,
    store: BlobStore,
    onBytes?: (sent: number) => void,
  ): Promise<URL> {
    let location = start;
    let offset = 0;
    for await (const chunk of chunks(store.open(desc.digest), this.chunkSize)) {
      const res = await this.request(repo, {
        method: 'PATCH',
        url: location,
        headers: {
          'Content-Type': 'application/octet-stream',
          'Content-Range': `${offset}-${offset + chunk.length - 1}`,
        },
        body: chunk,
        scopes: [pushScope(repo)],
      });
      if (res.status !== 202) throw await unexpected(res, `upload of ${desc.digest} (bytes ${offset}…)`);
      discard(res);
      location = uploadLocation(res);
      offset += chunk.length;
      onBytes?.(offset);
    }
    return location;
  }

  /** The closing PUT: carries the whole blob (monolithic) or nothing (after chunks), and names the digest. */
  private async finishUpload(
    repo: Repository,
    location: URL,
    desc: Descriptor,
    store: BlobStore,
    onBytes?: (sent: number) => void,
  ): Promise<void> {
    const url = new URL(location);
    url.searchParams.set('digest', desc.digest);
    const monolithic = desc.size <= this.chunkSize;
    const res = await this.request(repo, {
      method: 'PUT',
      url,
      headers: monolithic
        ? { 'Content-Type': 'application/octet-stream', 'Content-Length': String(desc.size) }
        : { 'Content-Length': '0' },
      body: monolithic ? Readable.from(counting(store.open(desc.digest), onBytes)) : Buffer.alloc(0),
      scopes: [pushScope(repo)],
    });
    if (res.status !== 201)
      throw await unexpected(res, `upload of ${desc.digest} to ${repo.registry}/${repo.path}`);
    discard(res);
    const confirmed = header(res, 'docker-content-digest');
    if (confirmed !== undefined && confirmed !== desc.digest) {
      throw new RegistryError(`upload of ${desc.digest}: the registry stored ${confirmed}`);
    }
  }

  // ---- plumbing ----------------------------------------------------------------------------------------

  private retrying<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    const onRetry = this.options.onRetry;
    return withRetries(this.policy, fn, onRetry === undefined ? undefined : (n) => onRetry(operation, n));
  }

  /** One authenticated request to the repository's registry (`transport.ts`). */
  private request(repo: Repository, spec: RequestSpec): Promise<HttpResponse> {
    return this.transport.request(repo.registry, spec);
  }
}

function pullScope(repo: Repository): Scope {
  return { repository: repo.path, actions: ['pull'] };
}

function pushScope(repo: Repository): Scope {
  return { repository: repo.path, actions: ['pull', 'push'] };
}

function refName(repo: Repository, reference: string): string {
  return `${repo.registry}/${repo.path}${reference.includes(':') ? '@' : ':'}${reference}`;
}

function contentType(res: HttpResponse): string | undefined {
  return header(res, 'content-type')?.split(';')[0]?.trim().toLowerCase();
}

function uploadLocation(res: HttpResponse): URL {
  const location = header(res, 'location');
  if (location === undefined)
    throw new RegistryError(`the registry opened an upload without a Location (${res.url.host})`);
  return new URL(location, res.url);
}
