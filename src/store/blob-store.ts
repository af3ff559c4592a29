/**
 * The content-addressed blob store: `<root>/blobs/sha256/<hex>` holds bytes whose sha256 is `<hex>`.
 *
 * Writes stream into `<root>/tmp/`, are hashed on the way, fsynced, and renamed into place only when the
 * digest is right, so a blob path either holds the full, correct content or does not exist. A writer killed
 * mid-way leaves only a temp file, which no reader ever looks at and `cleanTemp` removes (at once when the
 * process named in it is gone, else by age).
 *
 * Reads are verified: `open` hashes while streaming and fails at end-of-stream if the content does not
 * match its name (a consumer must treat the data as untrusted until the stream ends without error);
 * `readAll` checks before returning.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp, writeSync } from 'node:fs';
import * as path from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { fsyncDir, isErrno } from './atomic';
import { processAlive, tempOwnerPid } from './process';
import { digestHex, hashToDigest, parseDigest, sha256Digest, type Digest } from './digest';
import { BlobNotFoundError, CorruptBlobError, DigestMismatchError } from './errors';

export interface BlobInfo {
  digest: Digest;
  size: number;
}

export interface PutOptions {
  /** When given, the write fails (leaving nothing) unless the content hashes to this. */
  expectedDigest?: Digest;
  /** When given, the write fails (leaving nothing) unless the content has exactly this many bytes. */
  expectedSize?: number;
}

export type BlobSource = Readable | AsyncIterable<Uint8Array> | Uint8Array | string;

/** Bytes written to a streamed blob between background flushes to disk. */
const EARLY_SYNC_BYTES = 32 << 20;

/** Temp files older than this belong to writers that died; a live writer finishes long before. */
const DEFAULT_TEMP_MAX_AGE_MS = 24 * 60 * 60 * 1000;

const HEX_NAME = /^[a-f0-9]{64}$/;

export class BlobStore {
  readonly blobDir: string;
  readonly tempDir: string;

  constructor(readonly root: string) {
    this.blobDir = path.join(root, 'blobs', 'sha256');
    this.tempDir = path.join(root, 'tmp');
  }

  /** Where the blob lives (or would live). Reading it directly skips verification: prefer `open`. */
  blobPath(digest: Digest): string {
    return path.join(this.blobDir, digestHex(parseDigest(digest)));
  }

  async init(): Promise<void> {
    await fsp.mkdir(this.blobDir, { recursive: true });
    await fsp.mkdir(this.tempDir, { recursive: true });
  }

  async has(digest: Digest): Promise<boolean> {
    try {
      await fsp.stat(this.blobPath(digest));
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
  }

  /** Size in bytes of a stored blob; `BlobNotFoundError` when absent. */
  async size(digest: Digest): Promise<number> {
    try {
      return (await fsp.stat(this.blobPath(digest))).size;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new BlobNotFoundError(digest);
      throw err;
    }
  }

  /**
   * Store content, returning its digest and size. Writing a digest that is already stored is a no-op: with
   * `expectedDigest` known up front the source is not even read (a `Readable` source is destroyed).
   */
  async put(source: BlobSource, options: PutOptions = {}): Promise<BlobInfo> {
    const expected = options.expectedDigest === undefined ? undefined : parseDigest(options.expectedDigest);
    if (expected !== undefined && (await this.has(expected))) {
      const size = await this.size(expected);
      if (options.expectedSize === undefined || options.expectedSize === size) {
        if (source instanceof Readable) source.destroy();
        return { digest: expected, size };
      }
    }
    if (typeof source === 'string' || source instanceof Uint8Array) {
      return this.putBuffer(typeof source === 'string' ? Buffer.from(source) : source, expected, options);
    }
    return this.putStream(source, expected, options);
  }

  private async putBuffer(
    data: Uint8Array,
    expected: Digest | undefined,
    options: PutOptions,
  ): Promise<BlobInfo> {
    const digest = sha256Digest(data);
    checkExpected(digest, data.length, expected, options.expectedSize);
    return this.commit(async (tmp) => {
      await tmp.writeFile(data);
      return { digest, size: data.length };
    });
  }

  private async putStream(
    source: Readable | AsyncIterable<Uint8Array>,
    expected: Digest | undefined,
    options: PutOptions,
  ): Promise<BlobInfo> {
    return this.commit(async (tmp) => {
      // A plain loop: for-await gives backpressure, and a source error surfaces here as a throw. The writes
      // block: into the page cache they take microseconds, and a thread-pool round trip each would queue behind
      // whatever else the pool is doing (a layer's compression jobs).
      // A large blob is flushed to disk as it is written (one datasync at a time, in the background), so the
      // fsync before the rename does not wait for hundreds of megabytes at once.
      const hash = createHash('sha256');
      let size = 0;
      let unsynced = 0;
      let syncing: Promise<void> | undefined;
      let syncError: unknown;
      for await (const chunk of source) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        hash.update(buf);
        size += buf.length;
        let off = 0;
        while (off < buf.length) off += writeSync(tmp.fd, buf, off, buf.length - off);
        unsynced += buf.length;
        if (unsynced >= EARLY_SYNC_BYTES && syncing === undefined) {
          unsynced = 0;
          syncing = tmp.datasync().then(
            () => (syncing = undefined),
            (err: unknown) => {
              syncError ??= err;
              syncing = undefined;
            },
          );
        }
      }
      await syncing;
      if (syncError !== undefined) throw syncError;
      const info = { digest: hashToDigest(hash), size };
      checkExpected(info.digest, info.size, expected, options.expectedSize);
      return info;
    });
  }

  /**
   * Run `fill` against a fresh temp file, then fsync and rename it to the digest `fill` reports. Any failure
   * (including a digest mismatch thrown by `fill`) removes the temp file, so nothing partial remains.
   */
  private async commit(fill: (tmp: fsp.FileHandle) => Promise<BlobInfo>): Promise<BlobInfo> {
    await this.init();
    const tmpPath = path.join(this.tempDir, `${process.pid}-${randomBytes(8).toString('hex')}.part`);
    const handle = await fsp.open(tmpPath, 'wx', 0o444);
    let closed = false;
    try {
      const info = await fill(handle);
      await handle.sync();
      await handle.close();
      closed = true;
      const target = this.blobPath(info.digest);
      if (await this.has(info.digest)) {
        // Someone stored the same bytes first (or earlier): theirs is identical, keep it.
        await fsp.rm(tmpPath, { force: true });
      } else {
        await fsp.rename(tmpPath, target);
        await fsyncDir(this.blobDir);
      }
      return info;
    } catch (err) {
      if (!closed) await handle.close().catch(() => undefined);
      await fsp.rm(tmpPath, { force: true });
      throw err;
    }
  }

  /**
   * A stream of the blob's bytes that errors with `CorruptBlobError` at the end if they do not hash to
   * `digest`, or with `BlobNotFoundError` if there is no such blob.
   */
  open(digest: Digest): Readable {
    const blobPath = this.blobPath(digest);
    const verifier = new VerifyingStream(digest, blobPath);
    const file = createReadStream(blobPath);
    file.on('error', (err) => verifier.destroy(isErrno(err, 'ENOENT') ? new BlobNotFoundError(digest) : err));
    verifier.on('close', () => file.destroy());
    // A reader iterating the stream sees a corrupt or missing blob through its own listener. One that has already
    // let go (it failed on something else first) must not take the process down: `pipe` re-emits a destination
    // error that nothing listens to as an uncaught one, which a corrupt layer made flaky under load.
    verifier.on('error', () => undefined);
    file.pipe(verifier);
    return verifier;
  }

  /** The whole blob, verified. For configs and manifests; never for layers. */
  async readAll(digest: Digest): Promise<Buffer> {
    const blobPath = this.blobPath(digest);
    let data: Buffer;
    try {
      data = await fsp.readFile(blobPath);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new BlobNotFoundError(digest);
      throw err;
    }
    const actual = sha256Digest(data);
    if (actual !== digest) throw new CorruptBlobError(digest, actual, blobPath);
    return data;
  }

  /** Re-hash a stored blob; throws `CorruptBlobError` / `BlobNotFoundError`. */
  async verify(digest: Digest): Promise<void> {
    const stream = this.open(digest);
    for await (const chunk of stream) void chunk;
  }

  /** Remove a blob; returns whether it existed. */
  async delete(digest: Digest): Promise<boolean> {
    try {
      await fsp.unlink(this.blobPath(digest));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
    await fsyncDir(this.blobDir);
    return true;
  }

  /** All stored digests, sorted. Stray files that are not 64-hex names are ignored. */
  async list(): Promise<Digest[]> {
    let names: string[];
    try {
      names = await fsp.readdir(this.blobDir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
    return names
      .filter((n) => HEX_NAME.test(n))
      .sort()
      .map((n): Digest => `sha256:${n}`);
  }

  /** Remove temp files left by writers that died; returns how many were removed. */
  async cleanTemp(maxAgeMs = DEFAULT_TEMP_MAX_AGE_MS): Promise<number> {
    let names: string[];
    try {
      names = await fsp.readdir(this.tempDir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return 0;
      throw err;
    }
    const cutoff = Date.now() - maxAgeMs;
    let removed = 0;
    for (const name of names) {
      const p = path.join(this.tempDir, name);
      // A temp file or tree whose writer (named in it) has died goes whatever its age; others by age.
      const owner = tempOwnerPid(name);
      const orphaned = owner !== undefined && owner !== process.pid && !processAlive(owner);
      try {
        const st = await fsp.lstat(p);
        if (orphaned || st.mtimeMs <= cutoff) {
          await fsp.rm(p, { force: true, recursive: true });
          removed++;
        }
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
      }
    }
    return removed;
  }
}

function checkExpected(digest: Digest, size: number, expected?: Digest, expectedSize?: number): void {
  if (expected !== undefined && digest !== expected) throw new DigestMismatchError(expected, digest, 'blob');
  if (expectedSize !== undefined && size !== expectedSize) {
    throw new DigestMismatchError(`${expectedSize} bytes`, `${size} bytes`, 'blob size');
  }
}

/** Passes bytes through unchanged and fails at the end if they do not hash to the expected digest. */
class VerifyingStream extends Transform {
  private readonly hash = createHash('sha256');

  constructor(
    private readonly expected: Digest,
    private readonly blobPath: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    const actual: Digest = `sha256:${this.hash.digest('hex')}`;
    cb(actual === this.expected ? null : new CorruptBlobError(this.expected, actual, this.blobPath));
  }
}
