/**
 * Byte streams for blob transfers: counting the bytes that go by (for progress) and re-cutting a stream into
 * fixed-size buffers (for chunked uploads). Pure stream plumbing, no HTTP.
 */

/** `source` unchanged, with `onBytes` told the running total after each chunk. */
export async function* counting(
  source: AsyncIterable<Uint8Array>,
  onBytes?: (n: number) => void,
): AsyncGenerator<Uint8Array> {
  let n = 0;
  for await (const chunk of source) {
    n += chunk.length;
    onBytes?.(n);
    yield chunk;
  }
}

/** Re-cut a stream into buffers of exactly `size` bytes (the last one shorter). */
export async function* chunks(source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let length = 0;
  for await (const piece of source) {
    let buf = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    while (length + buf.length >= size) {
      const take = size - length;
      pending.push(buf.subarray(0, take));
      yield Buffer.concat(pending, size);
      pending = [];
      length = 0;
      buf = buf.subarray(take);
    }
    if (buf.length > 0) {
      pending.push(Buffer.from(buf));
      length += buf.length;
    }
  }
  if (length > 0) yield Buffer.concat(pending, length);
}
