import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { busyboxLayout, skopeoCopy, startRegistry, type TestRegistry } from '../helpers/registry';
import { requireE2e, TempDirs, tool, tsbuildOk, unpack, writeTree } from '../helpers/e2e';

/**
 * RUN end to end, from a busybox base in a real local registry: the classic layer-order example with a real
 * install step, and a RUN that deletes, replaces, renames, chmods, chowns and links files, compared file by file
 * with the image buildah builds from the same Dockerfile.
 */

jest.setTimeout(240_000);

const temps = new TempDirs();
let registry: TestRegistry;

beforeAll(async () => {
  requireE2e('skopeo', 'umoci', 'podman', 'buildah', 'docker-registry');
  registry = await startRegistry();
  await skopeoCopy(`oci:${await busyboxLayout()}:latest`, `docker://${registry.host}/busybox:latest`);
});

afterAll(async () => {
  await registry?.stop();
  await temps.cleanup();
});

const outcomes = (stderr: string): string[] =>
  stderr
    .split('\n')
    // Step result lines only: a RUN's output lines (`[4/6] RUN … | text`) carry no outcome.
    .filter((l) => /^\[\d+\/\d+\] .*( {2}CACHED|\(miss: .*\))$/.test(l))
    .map((l) => (l.endsWith('CACHED') ? 'hit' : 'miss'));

test('the classic example with a real RUN: hits, targeted misses, and an image podman runs', async () => {
  const ctx = await temps.make('classic-run');
  const root = path.join(await temps.make('store'), 'store');
  await writeTree(ctx, {
    Dockerfile: [
      `FROM ${registry.host}/busybox:latest`,
      'WORKDIR /app',
      'COPY package.json ./',
      // An "install" that creates thousands of files and says so, so we can tell whether it ran.
      'RUN mkdir -p node_modules && for i in $(seq 1 2000); do echo "m$i" > node_modules/m$i.js; done && echo INSTALLED',
      'COPY . .',
      'CMD ["sh", "-c", "ls node_modules | wc -l; cat src/index.js"]',
      '',
    ].join('\n'),
    'package.json': '{"name":"app","version":"1.0.0"}\n',
    'src/index.js': 'console.log(1)\n',
  });
  const build = (): Promise<{ stderr: string }> =>
    tsbuildOk(['-t', 'runapp:1', '--progress', 'plain', '--root', root, ctx]);

  const first = await build();
  expect(outcomes(first.stderr)).toEqual(Array(6).fill('miss'));
  // The install's own output line (`[4/6] RUN … | INSTALLED`) says it ran.
  const ran = (stderr: string): boolean => stderr.includes('| INSTALLED');
  expect(ran(first.stderr)).toBe(true);

  const second = await build();
  expect(outcomes(second.stderr)).toEqual(Array(6).fill('hit'));
  expect(ran(second.stderr)).toBe(false);

  await fsp.writeFile(path.join(ctx, 'src/index.js'), 'console.log(2)\n');
  const edited = await build();
  expect(outcomes(edited.stderr)).toEqual(['hit', 'hit', 'hit', 'hit', 'miss', 'miss']);
  expect(ran(edited.stderr)).toBe(false);

  await fsp.writeFile(path.join(ctx, 'package.json'), '{"name":"app","version":"1.0.1"}\n');
  const manifest = await build();
  expect(outcomes(manifest.stderr)).toEqual(['hit', 'hit', 'miss', 'miss', 'miss', 'miss']);
  expect(ran(manifest.stderr)).toBe(true);

  const archive = path.join(await temps.make('archive'), 'runapp.tar');
  await tsbuildOk(['-t', 'runapp:1', '-o', `type=docker,dest=${archive}`, '--root', root, ctx]);
  await tool('podman', ['load', '-q', '-i', archive]);
  try {
    expect(await tool('podman', ['run', '--rm', 'docker.io/library/runapp:1'])).toBe(
      '2000\nconsole.log(2)\n',
    );
  } finally {
    await tool('podman', ['rmi', '-f', 'docker.io/library/runapp:1']).catch(() => '');
  }
});

/** Every path under `dir`: type, mode, owner, link target and content hash, as one comparable line each. */
async function describeTree(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await fsp.readdir(path.join(dir, rel))).sort()) {
    const p = path.join(rel, name);
    const abs = path.join(dir, p);
    const st = await fsp.lstat(abs);
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isSymbolicLink()) out.push(`${p} l ${mode} ${st.uid}:${st.gid} -> ${await fsp.readlink(abs)}`);
    else if (st.isFIFO()) out.push(`${p} p ${mode} ${st.uid}:${st.gid}`);
    else if (st.isDirectory()) {
      out.push(`${p} d ${mode} ${st.uid}:${st.gid}`);
      out.push(...(await describeTree(dir, p)));
    } else {
      const hash = createHash('sha256')
        .update(await fsp.readFile(abs))
        .digest('hex')
        .slice(0, 16);
      out.push(`${p} f ${mode} ${st.uid}:${st.gid} links=${st.nlink} ${hash}`);
    }
  }
  return out;
}

test('what RUN changes shows up exactly as in the image buildah builds', async () => {
  const ctx = await temps.make('vs-buildah');
  await writeTree(ctx, {
    Dockerfile: [
      `FROM ${registry.host}/busybox:latest`,
      'RUN mkdir -p /data/sub /data/gone && echo a > /data/a && echo b > /data/b && echo c > /data/sub/c && ' +
        'echo x > /data/gone/x && ln -s a /data/link && echo keep > /data/rename-me',
      'RUN rm /data/a && echo replaced > /data/b && mv /data/rename-me /data/renamed && chmod 0640 /data/sub/c && ' +
        'chown 1000:1000 /data/sub && rm -rf /data/gone && mkdir /data/gone && echo new > /data/gone/y && ' +
        'ln /data/b /data/hard && mkfifo /data/fifo',
      '',
    ].join('\n'),
  });
  const work = await temps.make('compare');
  const ours = path.join(work, 'ours');
  await tsbuildOk(['-t', 'cmp:1', '-o', `type=oci,dest=${ours}`, '--root', path.join(work, 'store'), ctx]);
  const tag = `tsbuild-compare-${process.pid}`;
  await tool('buildah', [
    'bud',
    '--layers',
    '--tls-verify=false',
    '--isolation',
    'chroot',
    '-q',
    '-t',
    tag,
    ctx,
  ]);
  const theirs = path.join(work, 'theirs');
  try {
    await tool('buildah', ['push', '-q', tag, `oci:${theirs}:latest`]);
  } finally {
    await tool('buildah', ['rmi', '-f', tag]).catch(() => '');
  }
  const a = await unpack(ours, '1', path.join(work, 'ours-bundle'));
  const b = await unpack(theirs, 'latest', path.join(work, 'theirs-bundle'));
  const ourTree = await describeTree(path.join(a), 'data');
  expect(ourTree.length).toBeGreaterThan(5);
  expect(ourTree).toEqual(await describeTree(path.join(b), 'data'));
});

/** Every blob of a store, decompressed when it is gzip or zstd, concatenated: what an attacker reading it sees. */
async function storeBytes(root: string): Promise<Buffer> {
  const { decompressLayer } = await import('../../src/layers/compress');
  const { createReadStream } = await import('node:fs');
  const dir = path.join(root, 'blobs', 'sha256');
  const parts: Buffer[] = [];
  for (const name of await fsp.readdir(dir)) {
    for await (const chunk of decompressLayer(createReadStream(path.join(dir, name))))
      parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}

test('a cache mount carries over between builds and stays out of layers; a secret is in no blob', async () => {
  const ctx = await temps.make('mounts');
  const root = path.join(await temps.make('store'), 'store');
  const secretFile = path.join(await temps.make('secret'), 'token');
  await fsp.writeFile(secretFile, 'TOPSECRET-9f8e7d\n');
  await writeTree(ctx, {
    Dockerfile: [
      `FROM ${registry.host}/busybox:latest`,
      'ARG ROUND=1',
      // Counts the runs that saw the cache: 1 on a cold cache, 2 when the first run's file is still there.
      "RUN --mount=type=cache,target=/cache sh -c 'echo $ROUND >> /cache/runs; wc -l < /cache/runs > /seen'",
      // The secret's value must not be in the Dockerfile either (history would hold it): check its length.
      'RUN --mount=type=secret,id=token,required=true sh -c \'[ "$(wc -c < /run/secrets/token)" -eq 17 ] && echo ok > /secret-was-readable\'',
      '',
    ].join('\n'),
  });
  const args = ['--progress', 'plain', '--root', root, '--secret', `id=token,src=${secretFile}`, ctx];
  await tsbuildOk(['-t', 'mounts:1', '--build-arg', 'ROUND=1', ...args]);
  const out = path.join(await temps.make('out'), 'rootfs');
  await tsbuildOk(['-t', 'mounts:2', '--build-arg', 'ROUND=2', '-o', `type=local,dest=${out}`, ...args]);
  // The second build's RUN saw the first one's cache file; the cache itself is not in the image.
  expect((await fsp.readFile(path.join(out, 'seen'), 'utf8')).trim()).toBe('2');
  await expect(fsp.access(path.join(out, 'cache', 'runs'))).rejects.toThrow();
  expect(await fsp.readFile(path.join(out, 'secret-was-readable'), 'utf8')).toBe('ok\n');
  const bytes = await storeBytes(root);
  expect(bytes.includes(Buffer.from('TOPSECRET-9f8e7d'))).toBe(false);
});

test('WORKDIR through symlinked directories follows them inside the image, as Docker does (merged /usr)', async () => {
  const ctx = await temps.make('workdir-links');
  const root = path.join(await temps.make('store'), 'store');
  await writeTree(ctx, {
    Dockerfile: [
      `FROM ${registry.host}/busybox:latest`,
      // The layout of a merged-/usr image: /libx -> usr/libx, /var/runx -> /runx.
      'RUN mkdir -p /usr/libx /runx && ln -s usr/libx /libx && ln -s /runx /var/runx',
      'WORKDIR /libx/myapp',
      'RUN pwd -P > /pwd-lib',
      'WORKDIR /var/runx/app',
      'RUN pwd -P > /pwd-run',
      '',
    ].join('\n'),
  });
  const out = path.join(await temps.make('out'), 'rootfs');
  await tsbuildOk(['-t', 'wd:1', '--progress', 'plain', '--root', root, '-o', `type=local,dest=${out}`, ctx]);
  expect(await fsp.readFile(path.join(out, 'pwd-lib'), 'utf8')).toBe('/usr/libx/myapp\n');
  expect(await fsp.readFile(path.join(out, 'pwd-run'), 'utf8')).toBe('/runx/app\n');
  expect(await fsp.readlink(path.join(out, 'libx'))).toBe('usr/libx');
  expect(await fsp.readlink(path.join(out, 'var', 'runx'))).toBe('/runx');
});
