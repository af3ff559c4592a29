/**
 * `tsbuild run IMAGE [CMD...]` end to end: images built for real (a busybox rootfs FROM scratch, and a base left in
 * a real local registry by a push-only build), run in the RUN sandbox. The image's Cmd, Env, User and WorkingDir,
 * their flags, docker run's exit codes, a rootfs thrown away after each run, and layers fetched on demand.
 */
import { promises as fsp, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { writeBusyboxContext } from '../helpers/busybox-image';
import { requireE2e, TempDirs, tsbuild, tsbuildOk, writeTree } from '../helpers/e2e';
import { busyboxLayout, skopeoCopy, startRegistry, type TestRegistry } from '../helpers/registry';

jest.setTimeout(240_000);

const temps = new TempDirs();
let root: string;

const DOCKERFILE = [
  'FROM scratch',
  'COPY rootfs/ /',
  'ENV GREETING=hello',
  'RUN mkdir /srv && echo "from the image" > /srv/msg',
  'WORKDIR /srv',
  'USER app',
  'CMD ["sh", "-c", "cat msg; echo $GREETING; id -u; pwd"]',
  '',
].join('\n');

beforeAll(async () => {
  requireE2e('runc', 'slirp4netns', 'skopeo', 'umoci', 'docker-registry');
  const ctx = await temps.make('run-image-ctx');
  root = path.join(await temps.make('run-image-store'), 'store');
  await writeBusyboxContext(ctx, DOCKERFILE);
  await tsbuildOk(['build', '--root', root, '-t', 'smoke:1', '--progress', 'plain', ctx]);
});

afterAll(() => temps.cleanup());

const run = (...args: string[]): ReturnType<typeof tsbuild> => tsbuild(['run', '--root', root, ...args]);

test("the image's Cmd runs with its Env, User and WorkingDir; its output is ours", async () => {
  const r = await run('smoke:1');
  expect(r).toMatchObject({ status: 0, stdout: 'from the image\nhello\n1000\n/srv\n', stderr: '' });
});

test('a command replaces Cmd; -e, -u and -w replace what the image says', async () => {
  const r = await run(
    '-e',
    'GREETING=bye',
    '-e',
    'EXTRA=1',
    '-u',
    '0',
    '-w',
    '/tmp',
    'smoke:1',
    'sh',
    '-c',
    'echo $GREETING $EXTRA; id -u; pwd',
  );
  expect(r).toMatchObject({ status: 0, stdout: 'bye 1\n0\n/tmp\n' });
  // A user by name, a working directory that does not exist yet (made, as docker makes it), a bare -e taking ours.
  const named = await tsbuild(
    [
      'run',
      '--root',
      root,
      '--rm',
      '-u',
      'root',
      '-w',
      '/new/dir',
      '-e',
      'FROM_HOST',
      'smoke:1',
      'sh',
      '-c',
      'id -un; pwd; echo $FROM_HOST',
    ],
    {
      env: { FROM_HOST: 'host value' },
    },
  );
  expect(named).toMatchObject({ status: 0, stdout: 'root\n/new/dir\nhost value\n' });
  // --entrypoint replaces the entrypoint and drops the image's Cmd.
  const entry = await run('--entrypoint', 'echo', 'smoke:1', 'via', 'entrypoint');
  expect(entry).toMatchObject({ status: 0, stdout: 'via entrypoint\n' });
});

test("the process's stderr is our stderr and its exit code ours", async () => {
  const r = await run('smoke:1', 'sh', '-c', 'echo out; echo err >&2; exit 3');
  expect(r).toMatchObject({ status: 3, stdout: 'out\n', stderr: 'err\n' });
  expect((await run('smoke:1', 'true')).status).toBe(0);
});

test("docker run's own exit codes: 127 not found, 126 not executable, 125 tsbuild's failure, each one line", async () => {
  expect(await run('smoke:1', 'no-such-command')).toMatchObject({
    status: 127,
    stdout: '',
    stderr: 'exec: "no-such-command": executable file not found in $PATH\n',
  });
  expect(await run('smoke:1', '/srv/missing')).toMatchObject({ status: 127 });
  expect(await run('smoke:1', '/etc/passwd')).toMatchObject({
    status: 126,
    stderr: 'exec: "/etc/passwd": permission denied\n',
  });
  expect(await run('nope:1')).toMatchObject({ status: 125, stdout: '', stderr: 'no such image: nope:1\n' });
  const user = await run('-u', 'nobody', 'smoke:1', 'true');
  expect(user.status).toBe(125);
  expect(user.stderr).toBe('unable to find user nobody: no matching entries in passwd file\n');
  const flag = await run('--publish', '80', 'smoke:1');
  expect(flag.status).toBe(125);
  expect(flag.stderr.trim().split('\n')).toHaveLength(1);
});

test('the rootfs is thrown away: a change made by one run is not seen by the next, nothing stays mounted', async () => {
  const write = await run(
    '-u',
    '0',
    'smoke:1',
    'sh',
    '-c',
    'echo changed > /srv/msg; rm /bin/cat; cat /srv/msg',
  );
  expect(write).toMatchObject({ status: 0, stdout: 'changed\n' });
  expect(await run('smoke:1')).toMatchObject({ status: 0, stdout: 'from the image\nhello\n1000\n/srv\n' });
  expect(await fsp.readdir(path.join(root, 'runs'))).toEqual([]);
  expect(readFileSync('/proc/self/mounts', 'utf8')).not.toContain(root);
});

test('--network none has loopback only; the default network is a namespace with its own interface', async () => {
  const devices = async (...flags: string[]): Promise<string[]> => {
    const r = await run(...flags, 'smoke:1', 'cat', '/proc/net/dev');
    expect(r.status).toBe(0);
    return r.stdout
      .split('\n')
      .slice(2)
      .map((l) => l.split(':')[0]?.trim() ?? '')
      .filter(Boolean)
      .sort();
  };
  expect(await devices('--network', 'none')).toEqual(['lo']);
  const own = await devices();
  expect(own).toContain('lo');
  expect(own.length).toBeGreaterThan(1);
});

describe('an image whose layers a push-only build left in the registry', () => {
  let registry: TestRegistry;
  let lazyRoot: string;

  beforeAll(async () => {
    registry = await startRegistry();
    await skopeoCopy(`oci:${await busyboxLayout()}:latest`, `docker://${registry.host}/busybox:latest`);
    const ctx = await temps.make('run-image-lazy');
    await writeTree(ctx, { Dockerfile: `FROM ${registry.host}/busybox:latest\nLABEL lazy=yes\n` });
    lazyRoot = path.join(await temps.make('run-image-lazy-store'), 'store');
    await tsbuildOk([
      'build',
      '--root',
      lazyRoot,
      '--push',
      '-t',
      `${registry.host}/app:1`,
      '--progress',
      'plain',
      ctx,
    ]);
  });

  afterAll(() => registry?.stop());

  /** The busybox image's SIZE as `images` prints it, in bytes. */
  async function busyboxSize(): Promise<number> {
    const listed = await tsbuildOk(['images', '--root', lazyRoot]);
    const line = listed.stdout.split('\n').find((l) => l.startsWith(`${registry.host}/busybox `)) ?? '';
    const m = /([\d.]+)(B|kB|MB)$/.exec(line);
    expect(m).not.toBeNull();
    return Number(m?.[1]) * ({ B: 1, kB: 1e3, MB: 1e6 }[m?.[2] ?? 'B'] ?? 1);
  }

  test('is fetched from its registry as the run needs it', async () => {
    // The push-only build needed none of the base's layers: none is here yet.
    expect(await fsp.readdir(path.join(lazyRoot, 'snapshots')).catch(() => [])).toEqual([]);
    // Until then `images` counts the remote layer by its compressed size (it never goes to the registry).
    const before = await busyboxSize();
    const r = await tsbuild(['run', '--root', lazyRoot, `${registry.host}/busybox:latest`, 'echo', 'ran']);
    expect(r).toMatchObject({ status: 0, stdout: 'ran\n' });
    // Now it is here, and counted uncompressed: busybox's files are about twice its gzip.
    expect(await busyboxSize()).toBeGreaterThan(1.5 * before);
  });

  test('and is a one-line error, exit 125, when the registry is gone', async () => {
    const other = path.join(await temps.make('run-image-gone'), 'store');
    const ctx = await temps.make('run-image-gone-ctx');
    await writeTree(ctx, { Dockerfile: `FROM ${registry.host}/busybox:latest\nLABEL gone=yes\n` });
    await tsbuildOk([
      'build',
      '--root',
      other,
      '--push',
      '-t',
      `${registry.host}/gone:1`,
      '--progress',
      'plain',
      ctx,
    ]);
    await registry.stop();
    const r = await tsbuild(['run', '--root', other, `${registry.host}/busybox:latest`, 'echo', 'ran']);
    expect(r.status).toBe(125);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/fetching it again from .* failed/);
  });
});
