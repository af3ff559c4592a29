/**
 * Content digests as OCI writes them: `sha256:<64 lowercase hex>`. Only sha256 is produced and stored;
 * other algorithms are valid in references but the store refuses them rather than guessing.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { InvalidDigestError } from './errors';

export type Digest = `sha256:${string}`;

const SHA256_RE = /^sha256:[a-f0-9]{64}$/;

export function isDigest(value: string): value is Digest {
  return SHA256_RE.test(value);
}

/** Returns the value as a `Digest`, or throws `InvalidDigestError`. */
export function parseDigest(value: string): Digest {
  if (!isDigest(value)) throw new InvalidDigestError(value);
  return value;
}

/** The first 12 hex digits of a digest (`sha256:` dropped), as docker and every tsbuild listing shorten one. */
export function shortDigest(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}

/** The 64 hex digits of a digest: the blob's file name. */
export function digestHex(digest: Digest): string {
  return digest.slice('sha256:'.length);
}

export function sha256Digest(data: string | Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function hashToDigest(hash: Hash): Digest {
  return `sha256:${hash.digest('hex')}`;
}

/**
 * A pass-through stream that hashes and counts what flows through it. Read `digest()` and `size` after the
 * stream has ended; it is how every streaming writer gets a digest without a second pass.
 */
export class DigestTap extends Transform {
  private readonly hash = createHash('sha256');
  private result: Digest | undefined;
  size = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.result = hashToDigest(this.hash);
    cb();
  }

  /** The sha256 of everything that passed; only valid once the stream has flushed. */
  digest(): Digest {
    if (this.result === undefined) throw new Error('DigestTap.digest() called before the stream ended');
    return this.result;
  }
}
