import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { BlobStore } from '../../src/store/blob-store';
import { sha256Digest, type Digest } from '../../src/store/digest';
import {
  BlobNotFoundError,
  CorruptBlobError,
  DigestMismatchError,
  InvalidDigestError,
} from '../../src/store/errors';
import { BuildError, UserError } from '../../src/errors';

let root: string;
let store: BlobStore;

beforeEach(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-blobs-'));
  store = new BlobStore(root);
});

afterEach(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function chunked(data: Buffer, size: number): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
    })(),
  );
}

describe('BlobStore writes', () => {
  it('stores a buffer under blobs/sha256/<hex> and reports digest and size', async () => {
    const data = Buffer.from('hello blobs\n');
    const info = await store.put(data);
    expect(info).toEqual({ digest: sha256Digest(data), size: data.length });
    const onDisk = await fsp.readFile(path.join(root, 'blobs', 'sha256', info.digest.slice(7)));
    expect(onDisk.equals(data)).toBe(true);
    expect(await store.has(info.digest)).toBe(true);
    expect(await store.size(info.digest)).toBe(data.length);
  });

  it('streams a large source without needing it in memory and gets the same digest', async () => {
    const data = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const info = await store.put(chunked(data, 65536));
    expect(info.digest).toBe(sha256Digest(data));
    expect((await store.readAll(info.digest)).equals(data)).toBe(true);
  });

  it('rejects content that does not match the expected digest and leaves nothing behind', async () => {
    const wrong = sha256Digest('something else');
    await expect(
      store.put(chunked(Buffer.from('actual content'), 3), { expectedDigest: wrong }),
    ).rejects.toThrow(DigestMismatchError);
    await expect(store.put(Buffer.from('actual content'), { expectedDigest: wrong })).rejects.toThrow(
      BuildError,
    );
    expect(await store.has(wrong)).toBe(false);
    expect(await store.list()).toEqual([]);
    expect(await fsp.readdir(path.join(root, 'tmp'))).toEqual([]);
  });

  it('rejects content of the wrong size', async () => {
    const data = Buffer.from('12345');
    await expect(store.put(chunked(data, 2), { expectedSize: 4 })).rejects.toThrow(DigestMismatchError);
    expect(await store.list()).toEqual([]);
  });

  it('writing an existing digest is a no-op that does not read the source', async () => {
    const data = Buffer.from('same bytes');
    const first = await store.put(data);
    const before = await fsp.stat(store.blobPath(first.digest));
    let reads = 0;
    const source = new Readable({
      read() {
        reads++;
        this.push(null);
      },
    });
    const again = await store.put(source, { expectedDigest: first.digest });
    expect(again).toEqual(first);
    expect(reads).toBe(0);
    const after = await fsp.stat(store.blobPath(first.digest));
    expect(after.ino).toBe(before.ino);
    // Without an expected digest the content is read, and the existing blob is still kept as is.
    expect(await store.put(chunked(data, 4))).toEqual(first);
    expect((await fsp.stat(store.blobPath(first.digest))).ino).toBe(before.ino);
  });

  it('concurrent writers of the same content end with one intact blob and no temp files', async () => {
    const data = Buffer.alloc(256 * 1024, 7);
    const results = await Promise.all(Array.from({ length: 8 }, () => store.put(chunked(data, 8192))));
    for (const r of results) expect(r.digest).toBe(sha256Digest(data));
    expect(await store.list()).toEqual([sha256Digest(data)]);
    expect(await fsp.readdir(path.join(root, 'tmp'))).toEqual([]);
  });

  it('a failing source leaves no blob and no temp file', async () => {
    const failing = new Readable({
      read() {
        this.destroy(new Error('network went away'));
      },
    });
    await expect(store.put(failing)).rejects.toThrow('network went away');
    expect(await store.list()).toEqual([]);
    expect(await fsp.readdir(path.join(root, 'tmp'))).toEqual([]);
  });
});

describe('BlobStore reads', () => {
  it('open streams verified content', async () => {
    const data = Buffer.from('x'.repeat(100000));
    const { digest } = await store.put(data);
    expect((await collect(store.open(digest))).equals(data)).toBe(true);
  });

  it('a corrupt blob fails verified reads with a typed error naming the digest', async () => {
    const data = Buffer.from('precious layer bytes');
    const { digest } = await store.put(data);
    const p = store.blobPath(digest);
    await fsp.chmod(p, 0o644);
    await fsp.writeFile(p, 'precious layer bytez');

    const read = store.readAll(digest);
    await expect(read).rejects.toThrow(CorruptBlobError);
    await expect(store.readAll(digest)).rejects.toThrow(digest);
    await expect(collect(store.open(digest))).rejects.toThrow(CorruptBlobError);
    await expect(store.verify(digest)).rejects.toThrow(BuildError);
    const err = await store.readAll(digest).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptBlobError);
    expect((err as CorruptBlobError).digest).toBe(digest);
    expect((err as CorruptBlobError).actual).toBe(sha256Digest('precious layer bytez'));
  });

  it('a truncated blob is reported as corrupt', async () => {
    const { digest } = await store.put(Buffer.alloc(70000, 1));
    await fsp.truncate(store.blobPath(digest), 1000);
    await expect(collect(store.open(digest))).rejects.toThrow(CorruptBlobError);
  });

  it('missing blobs give BlobNotFoundError', async () => {
    const d = sha256Digest('nope');
    await expect(store.readAll(d)).rejects.toThrow(BlobNotFoundError);
    await expect(collect(store.open(d))).rejects.toThrow(BlobNotFoundError);
    await expect(store.size(d)).rejects.toThrow(BlobNotFoundError);
    expect(await store.has(d)).toBe(false);
  });

  it('malformed digests are a UserError', async () => {
    await expect(store.has('sha256:abc' as Digest)).rejects.toThrow(InvalidDigestError);
    expect(() => store.blobPath('md5:00' as Digest)).toThrow(UserError);
    expect(() => store.blobPath(`sha256:../../${'a'.repeat(58)}` as Digest)).toThrow(InvalidDigestError);
  });
});

describe('BlobStore housekeeping', () => {
  it('lists sorted digests, ignoring stray files, and deletes', async () => {
    const a = await store.put('a');
    const b = await store.put('b');
    const c = await store.put('c');
    await fsp.writeFile(path.join(root, 'blobs', 'sha256', 'README'), 'not a blob');
    expect(await store.list()).toEqual([a.digest, b.digest, c.digest].sort());
    expect(await store.delete(b.digest)).toBe(true);
    expect(await store.delete(b.digest)).toBe(false);
    expect(await store.list()).toEqual([a.digest, c.digest].sort());
  });

  it('temp files of killed writers are ignored by reads and removed by age', async () => {
    await store.init();
    const old = path.join(root, 'tmp', '123-dead.part');
    const fresh = path.join(root, 'tmp', '456-live.part');
    await fsp.writeFile(old, 'half a layer');
    await fsp.writeFile(fresh, 'in progress');
    const past = new Date(Date.now() - 48 * 3600 * 1000);
    await fsp.utimes(old, past, past);
    expect(await store.list()).toEqual([]);
    expect(await store.cleanTemp()).toBe(1);
    expect(await fsp.readdir(path.join(root, 'tmp'))).toEqual(['456-live.part']);
  });

  it('temp files and trees of a writer that has died go at once, whatever their age; a live one’s stay', async () => {
    await store.init();
    const dead = await new Promise<number>((resolve) => {
      const child = spawn('true');
      child.on('exit', () => resolve(child.pid ?? 0));
    });
    const tmp = path.join(root, 'tmp');
    await fsp.writeFile(path.join(tmp, `${dead}-0123456789abcdef.part`), 'half a layer');
    await fsp.mkdir(path.join(tmp, `snapshot-0123456789ab-${dead}-01234567`, 'usr'), { recursive: true });
    await fsp.writeFile(path.join(tmp, `${process.pid}-fedcba9876543210.part`), 'mine, in progress');
    expect(await store.cleanTemp()).toBe(2);
    expect(await fsp.readdir(tmp)).toEqual([`${process.pid}-fedcba9876543210.part`]);
  });
});
