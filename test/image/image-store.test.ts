import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { acquireFileLock } from '../../src/store/file-lock';
import { BuildError, UserError } from '../../src/errors';
import { InvalidReferenceError } from '../../src/image/errors';
import { ImageStore } from '../../src/image/image-store';
import { Annotation, MediaType, parseIndex, type Descriptor } from '../../src/image/oci-types';
import { childEnv, transpileSources } from '../helpers/child-modules';

let root: string;
let store: ImageStore;
let compiled: string;

beforeAll(async () => {
  compiled = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-imgstore-js-'));
  await transpileSources(compiled, ['cache', 'image']);
});

afterAll(async () => {
  await fsp.rm(compiled, { recursive: true, force: true });
});

beforeEach(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-images-'));
  store = new ImageStore(root);
});

afterEach(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

function manifest(n: number): Descriptor {
  return {
    mediaType: MediaType.ociManifest,
    digest: `sha256:${n.toString(16).padStart(64, '0')}`,
    size: 100 + n,
  };
}

describe('ImageStore', () => {
  it('tags with normalised names and resolves every spelling', async () => {
    const rec = await store.tag('myapp', manifest(1));
    expect(rec).toEqual({ name: 'docker.io/library/myapp:latest', target: manifest(1) });
    for (const spelling of ['myapp', 'myapp:latest', 'docker.io/myapp', 'docker.io/library/myapp:latest']) {
      expect((await store.resolve(spelling))?.target).toEqual(manifest(1));
    }
    expect(await store.resolve('myapp:other')).toBeUndefined();
    expect((await store.resolve(manifest(1).digest))?.name).toBe('docker.io/library/myapp:latest');
    expect((await store.resolve(`myapp@${manifest(1).digest}`))?.name).toBe('docker.io/library/myapp:latest');
    expect(await store.resolve(`other@${manifest(1).digest}`)).toBeUndefined();
  });

  it('keeps an OCI index with containerd and ref.name annotations, sorted by name', async () => {
    await store.tag('zeta:1', manifest(1));
    await store.tag('localhost:5000/alpha', manifest(2));
    await store.tag('zeta:1', manifest(3)); // re-tag replaces
    const index = parseIndex(await fsp.readFile(path.join(root, 'images', 'index.json')));
    expect(index.mediaType).toBe(MediaType.ociIndex);
    expect(index.manifests).toEqual([
      {
        ...manifest(3),
        annotations: {
          [Annotation.containerdImageName]: 'docker.io/library/zeta:1',
          [Annotation.refName]: '1',
        },
      },
      {
        ...manifest(2),
        annotations: {
          [Annotation.containerdImageName]: 'localhost:5000/alpha:latest',
          [Annotation.refName]: 'latest',
        },
      },
    ]);
    expect((await store.list()).map((r) => [r.name, r.target.digest])).toEqual([
      ['docker.io/library/zeta:1', manifest(3).digest],
      ['localhost:5000/alpha:latest', manifest(2).digest],
    ]);
  });

  it('untags', async () => {
    await store.tag('a', manifest(1));
    await store.tag('b', manifest(1));
    expect(await store.untag('docker.io/library/a:latest')).toBe(true);
    expect(await store.untag('a')).toBe(false);
    expect((await store.list()).map((r) => r.name)).toEqual(['docker.io/library/b:latest']);
  });

  it('rejects bad names as user errors', async () => {
    await expect(store.tag('Bad', manifest(1))).rejects.toThrow(InvalidReferenceError);
    await expect(store.tag(`a@${manifest(1).digest}`, manifest(1))).rejects.toThrow(UserError);
    await expect(store.resolve('a:b:c')).rejects.toThrow(InvalidReferenceError);
  });

  it('reports a damaged index as a BuildError', async () => {
    await fsp.mkdir(path.join(root, 'images'), { recursive: true });
    await fsp.writeFile(
      path.join(root, 'images', 'index.json'),
      '{"schemaVersion":2,"manifests":[{"oops":1}]}',
    );
    await expect(store.list()).rejects.toThrow(BuildError);
  });

  it('loses no tag when many updates race in one process', async () => {
    await Promise.all(Array.from({ length: 40 }, (_, i) => store.tag(`app:${i}`, manifest(i))));
    expect((await store.list()).length).toBe(40);
  });

  it('loses no tag when several processes tag at once', async () => {
    const modulePath = path.join(compiled, 'src', 'image', 'image-store.js');
    const script = (worker: number) => `
      const { ImageStore } = require(${JSON.stringify(modulePath)});
      const store = new ImageStore(${JSON.stringify(root)});
      (async () => {
        for (let i = 0; i < 15; i++) {
          const hex = (${worker} * 100 + i).toString(16).padStart(64, '0');
          await store.tag('w${worker}:' + i, { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:' + hex, size: 1 });
        }
      })().catch((e) => { console.error(e); process.exit(1); });
    `;
    const children = Array.from({ length: 5 }, (_, w) =>
      spawn(process.execPath, ['-e', script(w)], { env: childEnv(), stdio: 'inherit' }),
    );
    const codes = await Promise.all(children.map((c) => new Promise((r) => c.on('exit', r))));
    expect(codes).toEqual([0, 0, 0, 0, 0]);
    const names = (await store.list()).map((r) => r.name);
    expect(names.length).toBe(75);
    expect(names).toContain('docker.io/library/w4:14');
  });

  it('recovers from a holder SIGKILLed while holding the index lock', async () => {
    const lockModule = path.join(compiled, 'src', 'store', 'file-lock.js');
    const child = spawn(
      process.execPath,
      [
        '-e',
        `require(${JSON.stringify(lockModule)}).acquireFileLock(${JSON.stringify(store.lockPath)})
           .then(() => { console.log('locked'); setInterval(() => {}, 1000); });`,
      ],
      { env: childEnv(), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => child.stdout?.on('data', () => resolve()));
    await expect(acquireFileLock(store.lockPath, { timeoutMs: 100 })).rejects.toThrow(/timed out/);
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGKILL');
    await exited;
    await store.tag('after-crash', manifest(9));
    expect((await store.resolve('after-crash'))?.target.digest).toBe(manifest(9).digest);
  });
});
