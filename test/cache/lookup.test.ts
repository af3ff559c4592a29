/**
 * The lookup order without a build, on a real store on disk: a local record whose layer is here, else an imported
 * record whose layer can be fetched, else nothing; `--no-cache` finds nothing; a hit is marked in use first.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { markInUse, readInUse } from '../../src/cache/in-use';
import { KeyIndex, type CacheRecord } from '../../src/cache/key-index';
import { CacheLookup } from '../../src/cache/lookup';
import type { StepInputs } from '../../src/cache/step-key';
import { CacheImports } from '../../src/cache/transfer/build-imports';
import type { ExportedRecord } from '../../src/cache/transfer/format';
import type { CacheBlobSource, LoadedCache } from '../../src/cache/transfer/types';
import type { LayerRecord } from '../../src/image/stored-image';
import { BlobStore } from '../../src/store/blob-store';
import type { Digest } from '../../src/store/digest';

const D = (c: string): Digest => `sha256:${c.repeat(64)}`;
const INPUTS: StepInputs = { parent: D('1'), op: { instruction: 'RUN make' } };
const TAR = 'application/vnd.oci.image.layer.v1.tar';

let root: string;
let blobs: BlobStore;
let index: KeyIndex;

beforeEach(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-lookup-'));
  blobs = new BlobStore(root);
  index = new KeyIndex(root);
});
afterEach(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

async function storedLayer(content: string): Promise<LayerRecord> {
  const { digest, size } = await blobs.put(content);
  return { digest, diffId: digest, size, mediaType: TAR };
}

function record(key: Digest, layer: LayerRecord | null, description: string): CacheRecord {
  const now = new Date().toISOString();
  return {
    version: 1,
    key,
    description,
    layer,
    inputs: INPUTS,
    durationMs: 5,
    createdAt: now,
    lastUsedAt: now,
  };
}

function imported(key: Digest, layer: LayerRecord | null, description: string): ExportedRecord {
  return { key, description, layer, inputs: INPUTS, durationMs: 5, createdAt: new Date().toISOString() };
}

/** A cache whose blobs come from nowhere: a fetch would fail, so only records and layer offers count. */
function cache(records: ExportedRecord[]): LoadedCache {
  const source: CacheBlobSource = {
    label: 'test cache',
    fetch: () => Promise.reject(new Error('not fetched in these tests')),
  };
  return { config: { version: 1, mode: 'max', records, cacheMounts: [] }, source };
}

function lookup(caches: LoadedCache[], options: { noCache?: boolean } = {}): CacheLookup {
  return new CacheLookup(root, blobs, index, new CacheImports(root, blobs, caches), {
    noCache: options.noCache ?? false,
  });
}

describe('CacheLookup', () => {
  it('finds the local record first when its layer is here', async () => {
    const layer = await storedLayer('local layer');
    await index.put(record(D('a'), layer, 'local'));
    const found = await lookup([cache([imported(D('a'), layer, 'imported')])]).find(D('a'));
    expect(found?.description).toBe('local');
  });

  it('falls back to an imported record when the local record lost its layer', async () => {
    const gone: LayerRecord = { digest: D('9'), diffId: D('9'), size: 3, mediaType: TAR };
    await index.put(record(D('a'), gone, 'local'));
    const offered: LayerRecord = { digest: D('8'), diffId: D('8'), size: 3, mediaType: TAR };
    const l = lookup([cache([imported(D('a'), offered, 'imported')])]);
    expect((await l.find(D('a')))?.description).toBe('imported');
    expect(await l.has(D('a'))).toBe(true);
  });

  it('finds nothing when neither the index nor an import has the key, or with --no-cache', async () => {
    const layer = await storedLayer('x');
    await index.put(record(D('a'), layer, 'local'));
    expect(await lookup([]).find(D('b'))).toBeUndefined();
    expect(await lookup([]).has(D('b'))).toBe(false);
    expect(await lookup([], { noCache: true }).find(D('a'))).toBeUndefined();
  });

  it('a local record without a layer (a metadata step) is a hit on its own', async () => {
    await index.put(record(D('c'), null, 'ENV A=1'));
    expect((await lookup([]).find(D('c')))?.description).toBe('ENV A=1');
  });

  it('the first cache offering a key wins, as with several --cache-from', async () => {
    const l = lookup([cache([imported(D('a'), null, 'first')]), cache([imported(D('a'), null, 'second')])]);
    expect((await l.find(D('a')))?.description).toBe('first');
  });

  it('imported records the build used become local once their layer is here; unused ones do not', async () => {
    const layer = await storedLayer('fetched');
    const l = lookup([cache([imported(D('a'), layer, 'used'), imported(D('b'), null, 'unused')])]);
    await l.find(D('a'));
    await l.keepImportedRecords();
    expect((await index.get(D('a')))?.description).toBe('used');
    expect(await index.get(D('b'))).toBeUndefined();
  });

  it('marks a hit and its layer in use before it is used', async () => {
    const layer = await storedLayer('marked');
    await index.put(record(D('a'), layer, 'local'));
    const inUse = await markInUse(root);
    try {
      const l = new CacheLookup(root, blobs, index, new CacheImports(root, blobs, []), {
        noCache: false,
        inUse,
      });
      await l.find(D('a'));
      const marked = await readInUse(root);
      expect([...marked.refs]).toEqual(expect.arrayContaining([D('a'), layer.digest]));
    } finally {
      await inUse.release();
    }
  });
});
