/**
 * Checking a layer against its diff_id (the sha256 of its uncompressed tar, which the image config lists) while
 * it is read. The blob store already verifies the compressed digest; this catches a config whose diff_ids do not
 * describe its layers (a broken or tampered image), before any of it is used.
 */
import { createHash } from 'node:crypto';
import type { Digest } from '../cache/digest';
import { decompressLayer } from './compress';
import { LayerFormatError } from './errors';

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
