/**
 * Checking a layer against its diff_id (the sha256 of its uncompressed tar, which the image config lists) while
 * it is read, and hashing a tar being made. The blob store already verifies the compressed digest; this catches a
 * config whose diff_ids do not describe its layers (a broken or tampered image), before any of it is used.
 */
import { createHash } from 'node:crypto';
import { hashToDigest, type Digest } from '../store/digest';
import { decompressLayer } from './compress';
import { LayerFormatError } from './errors';
import { layerTarChunks, type LayerEntry, type TarWriterOptions } from './tar-writer';

export interface HashedLayerTar {
  /** The uncompressed tar; a reader may stop early (at the end-of-archive blocks) without closing the source. */
  tar: AsyncIterable<Buffer>;
  /** Read what the tar reader left (the diff_id covers every byte, padding included) and compare. */
  verify(diffId: Digest, layerDigest: string): Promise<void>;
}

export function hashedLayerTar(layer: AsyncIterable<Uint8Array>): HashedLayerTar {
  const hash = createHash('sha256');
  const source = (async function* () {
    for await (const chunk of decompressLayer(layer)) {
      hash.update(chunk as Buffer);
      yield chunk as Buffer;
    }
  })()[Symbol.asyncIterator]();
  return {
    // No `return`: the tar reader stopping must not close the source before it is drained.
    tar: { [Symbol.asyncIterator]: () => ({ next: () => source.next() }) },
    async verify(diffId, layerDigest) {
      while (!(await source.next()).done) {
        // draining: the generator hashes every chunk
      }
      const actual: Digest = `sha256:${hash.digest('hex')}`;
      if (actual !== diffId) {
        throw new LayerFormatError(
          `layer ${layerDigest} does not match its diff_id: expected ${diffId}, the content hashes to ${actual}`,
        );
      }
    },
  };
}

/**
 * The diff_id and size of the tar `entries` make, hashed chunk by chunk as the writer yields them: no stream in
 * between (a pipeline's push and transform per chunk cost more than the hashing on a 100 MB RUN layer).
 */
export async function layerTarDiffId(
  entries: readonly LayerEntry[],
  options: TarWriterOptions = {},
): Promise<{ diffId: Digest; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of layerTarChunks(entries, options)) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { diffId: hashToDigest(hash), size };
}
