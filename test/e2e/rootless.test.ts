import { spawn, spawnSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { BIN, PROJECT, requireE2e, TempDirs, tool, tsbuildOk, writeTree, type Run } from '../helpers/e2e';
import { busyboxLayout } from '../helpers/registry';
import { startPrivateDockerd, type PrivateDockerd } from '../helpers/dockerd';

/**
 * Rootless builds (issue 17): the unprivileged user scripts/setup-test-tools.sh makes (tsbuild-rootless, with
 * subordinate id ranges) runs the same CLI; tsbuild enters a user namespace of its own. The classic layer-order
 * example with a real RUN hits on the second build; files a RUN makes as root and as 1000:1000 and a COPY --chown
 * keep their owners, exactly as in the rootful build of the same Dockerfile; a build without RUN gives the rootful
 * build's digest; a RUN cannot reach the host's loopback; `cache prune --all` empties the store without root.
 */

jest.setTimeout(240_000);

const USER = 'tsbuild-rootless';
const DEBIAN_DOCKER = '/usr/bin/docker';
const temps = new TempDirs();
let layout: string;
let engine: PrivateDockerd;

beforeAll(async () => {
  requireE2e(
    'umoci',
    'runc',
    'slirp4netns',
    'newuidmap',
    'setfacl',
    'runuser',
    'dockerd',
    'docker',
    'skopeo',
  );
  if (spawnSync('id', [USER]).status !== 0) {
    throw new Error(
      `user ${USER} is missing: run scripts/setup-test-tools.sh (this is a failure, not a skip)`,
    );
  }
  layout = await busyboxLayout();
  // The user reads the checkout (bin/, dist/, node_modules/) and the base image, wherever they are.
  for (const dir of [PROJECT, layout]) await allowRead(dir);
  // docker's build of the same Dockerfile, for the file trees: a private engine with the same busybox.
  if (!existsSync(DEBIAN_DOCKER))
    throw new Error(`${DEBIAN_DOCKER} is missing: run scripts/setup-test-tools.sh (docker.io)`);
  engine = await startPrivateDockerd(await temps.make('rootless-dockerd'));
  const archive = path.join(await temps.make('rootless-busybox'), 'busybox.tar');
  await tool('skopeo', ['copy', `oci:${layout}:latest`, `docker-archive:${archive}:busybox:latest`]);
  engine.docker(['load', '-i', archive]);
});

afterAll(async () => {
  await engine?.stop();
  await temps.cleanup();
});

/**
 * Lets the user into `dir` (every directory above it, and read the tree) where others may not already: an ACL entry
 * for that user alone, with what others have plus the access it needs. A named entry is the user's whole access,
 * so it is added only where needed and keeps what others had (a `/tmp` entry of r-x would take its write away).
 */
async function allowRead(dir: string): Promise<void> {
  const parts = path.resolve(dir).split('/').filter(Boolean);
  for (let i = 1; i < parts.length; i++) {
    const p = `/${parts.slice(0, i).join('/')}`;
    const other = (await fsp.stat(p)).mode & 0o007;
    if ((other & 0o001) === 0) await tool('setfacl', ['-m', `u:${USER}:${permString(other | 0o001)}`, p]);
  }
  const other = (await fsp.stat(dir)).mode & 0o007;
  if ((other & 0o005) !== 0o005) await tool('setfacl', ['-R', '-m', `u:${USER}:rX`, dir]);
}

function permString(bits: number): string {
  return `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${bits & 1 ? 'x' : '-'}`;
}

/** A temp dir the user owns (its store, or a context it reads). */
async function userDir(prefix: string): Promise<string> {
  const dir = await temps.make(prefix);
  await tool('chown', [USER, dir]);
  return dir;
}

/** `tsbuild ARGS` as the unprivileged user, in a login-like environment (its own HOME, no TSBUILD_ROOT). */
function asUser(args: string[]): Promise<Run> {
  const home = `/home/${USER}`;
  const child = spawn(
    'runuser',
    [
      '-u',
      USER,
      '--',
      'env',
      '-i',
      `HOME=${home}`,
      `PATH=${process.env.PATH ?? ''}`,
      process.execPath,
      BIN,
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) =>
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr })),
  );
}

async function asUserOk(args: string[]): Promise<Run> {
  const r = await asUser(args);
  if (r.status !== 0) throw new Error(`tsbuild ${args.join(' ')} as ${USER} exited ${r.status}\n${r.stderr}`);
  return r;
}

const base = (): string => `busybox=oci-layout://${layout}`;
const outcomes = (stderr: string): string[] =>
  stderr
    .split('\n')
    .filter((l) => /^\[(\S+ )?\d+\/\d+\] .*( {2}CACHED|\(miss: .*\))$/.test(l))
    .map((l) => (l.endsWith('CACHED') ? 'hit' : 'miss'));

/** Every entry of an image's layers as `path mode uid:gid [-> target]`, layers in order, from `tsbuild save`. */
async function imageTree(
  run: (args: string[]) => Promise<Run>,
  name: string,
  root: string,
): Promise<string[]> {
  const out = await userDir('rootless-save');
  const archive = path.join(out, 'image.tar');
  await run(['save', name, '-o', archive, '--root', root]);
  return archiveTree(archive);
}

/** The same for a docker archive (`docker save`, `tsbuild save`). */
async function archiveTree(archive: string): Promise<string[]> {
  const dir = await temps.make('rootless-tree');
  await tool('tar', ['-xf', archive, '-C', dir]);
  const manifest = JSON.parse(await fsp.readFile(path.join(dir, 'manifest.json'), 'utf8')) as {
    Layers: string[];
  }[];
  const rows: string[] = [];
  for (const layer of manifest[0]?.Layers ?? []) {
    const listing = await tool('tar', ['--numeric-owner', '-tvf', path.join(dir, layer)]);
    for (const line of listing.split('\n').filter(Boolean)) {
      // drwxr-xr-x 1000/1000 0 2026-12-08 00:55 home/app/ [-> target]: the date is the build's, not the tree's.
      const [mode, owner, , , , ...rest] = line.split(/\s+/);
      rows.push(`${rest.join(' ')} ${mode} ${owner}`);
    }
  }
  return rows;
}

/** docker's (BuildKit's) build of a context in the private engine, as a file tree. */
async function dockerTree(ctx: string): Promise<string[]> {
  const tag = `rootless-docker-${path.basename(ctx).toLowerCase()}`;
  // Debian's 20.10 client (docker.io): a newer one earlier in PATH refuses BuildKit without buildx.
  const r = spawnSync(DEBIAN_DOCKER, ['build', '-q', '-t', tag, ctx], {
    encoding: 'utf8',
    env: { ...process.env, DOCKER_HOST: engine.host, DOCKER_BUILDKIT: '1' },
  });
  if (r.status !== 0) throw new Error(`docker build exited ${r.status}: ${r.stderr}`);
  const archive = path.join(await temps.make('rootless-docker-save'), 'image.tar');
  engine.docker(['save', '-o', archive, tag]);
  return archiveTree(archive);
}

test('the classic example with a real RUN, owners, COPY --chown and a second stage: hits, and the rootful tree', async () => {
  const ctx = await userDir('rootless-ctx');
  await writeTree(ctx, {
    Dockerfile: [
      'FROM busybox AS tools',
      'RUN mkdir -p /out && echo tool > /out/tool && chown 1000:1000 /out/tool',
      'FROM busybox',
      'WORKDIR /app',
      'COPY package.json ./',
      'RUN echo installed > deps && mkdir -p /home/app && touch /home/app/mine && chown -R 1000:1000 /home/app && ln -s deps deps.link && echo INSTALLED',
      'COPY --chown=1000:1000 . .',
      'COPY --from=tools /out/tool /app/tool',
      'CMD ["cat", "/app/deps"]',
      '',
    ].join('\n'),
    'package.json': '{"name":"app"}\n',
    'src/index.js': 'console.log(1)\n',
  });
  await fsp.chmod(ctx, 0o755);
  await tool('chmod', ['-R', 'a+rX', ctx]);
  const store = path.join(await userDir('rootless-store'), 'store');
  const build = (): Promise<Run> =>
    asUserOk(['-t', 'rl:1', '--progress', 'plain', '--root', store, '--build-context', base(), ctx]);
  const first = await build();
  expect(first.stderr).toContain('| INSTALLED');
  expect(first.stderr).not.toContain('copied rootfs');
  // Only the second FROM busybox hits, on the record the first one made.
  expect(outcomes(first.stderr).filter((o) => o === 'hit')).toHaveLength(1);
  const second = await build();
  expect(outcomes(second.stderr).every((o) => o === 'hit')).toBe(true);
  expect(second.stderr).not.toContain('| INSTALLED');

  // The same Dockerfile built by root: the same paths, modes, owners and link targets.
  const rootStore = path.join(await temps.make('rootful-store'), 'store');
  await tsbuildOk(['-t', 'rl:1', '--progress', 'plain', '--root', rootStore, '--build-context', base(), ctx]);
  const rootless = await imageTree(asUserOk, 'rl:1', store);
  const rootful = await imageTree(tsbuildOk, 'rl:1', rootStore);
  expect(rootless).toEqual(rootful);
  // docker's (BuildKit's) image: the same files and links with the same modes and owners. (Its RUN layer also
  // lists `etc/` itself, whose times the mount stubs changed: tsbuild gives those times back, rootless or not.)
  const notDir = (rows: string[]): string[] => rows.filter((r) => !/ d[rwxst-]{9} /.test(r));
  expect(notDir(rootless)).toEqual(notDir(await dockerTree(ctx)));
  expect(rootless).toEqual(
    // COPY --from keeps what the RUN of the other stage gave it: the owner the rootless RUN set.
    expect.arrayContaining([expect.stringMatching(/^app\/tool -rw-r--r-- 1000\/1000$/)]),
  );
  expect(rootless).toEqual(
    expect.arrayContaining([expect.stringMatching(/^home\/app\/mine -rw-r--r-- 1000\/1000$/)]),
  );
  expect(rootless).toEqual(
    expect.arrayContaining([expect.stringMatching(/^app\/src\/index\.js -rw-r--r-- 1000\/1000$/)]),
  );
  expect(rootless).toEqual(expect.arrayContaining([expect.stringMatching(/^app\/deps -rw-r--r-- 0\/0$/)]));
  expect(rootless).toEqual(expect.arrayContaining(['app/deps.link -> deps lrwxrwxrwx 0/0']));

  // The image runs, in the same sandbox.
  expect((await asUserOk(['run', '--root', store, 'rl:1'])).stdout).toBe('installed\n');

  // Everything the rootless builds left goes with a prune, as that user, and the user can then remove the store.
  await asUserOk(['cache', 'prune', '--all', '--root', store]);
  const left = await tool('find', [store, '-type', 'f']);
  expect(left.split('\n').filter((l) => /\/(blobs|snapshots|listings)\//.test(l))).toEqual([]);
  const rm = spawnSync('runuser', ['-u', USER, '--', 'rm', '-rf', store], { encoding: 'utf8' });
  expect(rm.stderr).toBe('');
  expect(rm.status).toBe(0);
});

test('a build without RUN gives the rootful digest', async () => {
  const ctx = await userDir('rootless-norun');
  await writeTree(ctx, {
    Dockerfile: 'FROM busybox\nCOPY --chown=1000:1000 a /a\nCOPY b /b\nENV X=1\n',
    a: 'a\n',
    b: 'b\n',
  });
  await tool('chmod', ['-R', 'a+rX', ctx]);
  const args = (root: string): string[] => [
    '-q',
    '--build-arg',
    'SOURCE_DATE_EPOCH=1700000000',
    '--root',
    root,
    '--build-context',
    base(),
    ctx,
  ];
  const rootless = await asUserOk(args(path.join(await userDir('rootless-norun-store'), 'store')));
  const rootful = await tsbuildOk(args(path.join(await temps.make('rootful-norun-store'), 'store')));
  expect(rootless.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
  expect(rootless.stdout).toBe(rootful.stdout);
});

test("a rootless RUN reaches the network but not the host's loopback, nor the user's files", async () => {
  const server = net.createServer((s) => s.end('HOST-LOOPBACK\n'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  const { port } = address;
  try {
    const ctx = await userDir('rootless-net');
    await writeTree(ctx, {
      Dockerfile: [
        'FROM busybox',
        `RUN (nc -w 2 127.0.0.1 ${port} </dev/null || true) && echo "home: $(ls /home/${USER} 2>&1 | head -1)" && echo DONE`,
        '',
      ].join('\n'),
    });
    await tool('chmod', ['-R', 'a+rX', ctx]);
    // A file of the user's on the host, which the RUN must not see.
    await fsp.writeFile(`/home/${USER}/host-secret`, 'secret\n');
    const store = path.join(await userDir('rootless-net-store'), 'store');
    const r = await asUserOk(['--progress', 'plain', '--root', store, '--build-context', base(), ctx]);
    expect(r.stderr).toContain('| DONE');
    expect(r.stderr).not.toContain('HOST-LOOPBACK');
    expect(r.stderr).not.toContain('host-secret');
  } finally {
    server.close();
  }
});

test('a base image with a device node: a rootless RUN on it says in one line why it cannot be built', async () => {
  const rootCtx = await temps.make('rootful-dev');
  await writeTree(rootCtx, { Dockerfile: 'FROM busybox\nRUN mknod /mydev c 1 3\n' });
  const oci = path.join(await userDir('rootless-dev-oci'), 'image');
  const rootStore = path.join(await temps.make('rootful-dev-store'), 'store');
  await tsbuildOk([
    '-q',
    '--root',
    rootStore,
    '--build-context',
    base(),
    '--output',
    `type=oci,dest=${oci}`,
    rootCtx,
  ]);
  await tool('chmod', ['-R', 'a+rX', oci]);
  const ctx = await userDir('rootless-dev');
  await writeTree(ctx, { Dockerfile: 'FROM devimg\nRUN ls /mydev\n' });
  await tool('chmod', ['-R', 'a+rX', ctx]);
  const store = path.join(await userDir('rootless-dev-store'), 'store');
  const r = await asUser(['-q', '--root', store, '--build-context', `devimg=oci-layout://${oci}`, ctx]);
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(
    /^Dockerfile:2: \/mydev: a char device \(1:3\), which a rootless build cannot create/m,
  );
  expect(r.stderr).not.toMatch(/\n\s+at /);
});

test('where no user namespace can be made (no_new_privs: newuidmap cannot map), one line says so, exit 1', async () => {
  requireE2e('setpriv');
  const ctx = await userDir('rootless-nnp');
  await writeTree(ctx, { Dockerfile: 'FROM busybox\n' });
  await tool('chmod', ['-R', 'a+rX', ctx]);
  const child = spawnSync(
    'runuser',
    [
      '-u',
      USER,
      '--',
      'setpriv',
      '--no-new-privs',
      process.execPath,
      BIN,
      '-q',
      '--build-context',
      base(),
      ctx,
    ],
    { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: `/home/${USER}` } },
  );
  expect(child.status).toBe(1);
  expect(child.stderr.trim().split('\n')).toHaveLength(1);
  expect(child.stderr).toMatch(
    /^tsbuild: not root, and a user namespace cannot be made here \(.+\): run as root/,
  );
});

test('deleting and replacing what a lower layer holds: the same whiteouts and opaque directory as rootful', async () => {
  const ctx = await userDir('rootless-opaque');
  await writeTree(ctx, {
    Dockerfile: [
      'FROM busybox',
      'RUN mkdir -p /d/sub /e && echo a > /d/sub/f && echo b > /d/g && echo c > /e/gone && echo k > /e/kept',
      // A lower directory replaced (opaque) and a lower file deleted (whiteout), then both seen by the next RUN.
      'RUN rm -rf /d && mkdir /d && echo new > /d/h && rm /e/gone',
      'RUN test ! -e /d/g && test ! -e /e/gone && cat /d/h /e/kept',
      '',
    ].join('\n'),
  });
  await tool('chmod', ['-R', 'a+rX', ctx]);
  const store = path.join(await userDir('rootless-opaque-store'), 'store');
  const r = await asUserOk([
    '-t',
    'opq:1',
    '--progress',
    'plain',
    '--root',
    store,
    '--build-context',
    base(),
    ctx,
  ]);
  expect(r.stderr).toContain('| new');
  const rootStore = path.join(await temps.make('rootful-opaque-store'), 'store');
  await tsbuildOk(['-t', 'opq:1', '--root', rootStore, '--build-context', base(), ctx]);
  const rootless = await imageTree(asUserOk, 'opq:1', store);
  expect(rootless).toEqual(await imageTree(tsbuildOk, 'opq:1', rootStore));
  expect(rootless).toEqual(expect.arrayContaining([expect.stringMatching(/^d\/\.wh\.\.wh\.\.opq /)]));
  expect(rootless).toEqual(expect.arrayContaining([expect.stringMatching(/^e\/\.wh\.gone /)]));
});
