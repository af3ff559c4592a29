import * as path from 'node:path';
import {
  busyboxLayout,
  dockerConfig,
  skopeoCopy,
  startRegistry,
  type TestRegistry,
} from '../helpers/registry';
import { requireE2e, TempDirs, tool, tsbuild, tsbuildOk, writeTree } from '../helpers/e2e';

/**
 * `tsbuild build` against real registries: FROM pulls once and then stays off the network unless --pull, --push
 * lands an image skopeo and podman accept and podman runs, FROM behind basic auth works with a docker config and
 * fails in one line without it, and --build-context names an image for FROM.
 */

jest.setTimeout(180_000);

const temps = new TempDirs();
let registry: TestRegistry;
let secured: TestRegistry;
let layout: string;

beforeAll(async () => {
  requireE2e('skopeo', 'podman', 'docker-registry', 'umoci');
  layout = await busyboxLayout();
  registry = await startRegistry();
  secured = await startRegistry({ kind: 'basic', user: 'ci', password: 'hunter2' });
  await skopeoCopy(`oci:${layout}:latest`, `docker://${registry.host}/busybox:latest`);
  await skopeoCopy(`oci:${layout}:latest`, `docker://${secured.host}/busybox:latest`, [
    '--dest-creds',
    'ci:hunter2',
  ]);
});

afterAll(async () => {
  await registry?.stop();
  await secured?.stop();
  await temps.cleanup();
});

async function context(from: string): Promise<string> {
  const dir = await temps.make('regctx');
  await writeTree(dir, {
    Dockerfile: `FROM ${from}\nCOPY hello.txt /\nCMD ["cat", "/hello.txt"]\n`,
    'hello.txt': 'hello from a pushed tsbuild image\n',
  });
  return dir;
}

const manifestRequests = async (r: TestRegistry): Promise<string[]> =>
  (await r.requests()).filter((line) => line.includes('/busybox/manifests/'));

test('FROM pulls once; a second build does not touch the registry unless --pull; --push is runnable', async () => {
  const ctx = await context(`${registry.host}/busybox:latest`);
  const root = path.join(await temps.make('store'), 'store');
  const target = `${registry.host}/app:1`;
  const first = await tsbuildOk(['-t', target, '--push', '--progress', 'plain', '--root', root, ctx]);
  expect(first.stderr).toContain(`pulled ${registry.host}/busybox:latest`);
  const afterFirst = (await manifestRequests(registry)).length;
  expect(afterFirst).toBeGreaterThan(0);

  await tsbuildOk(['-t', target, '--progress', 'plain', '--root', root, ctx]);
  expect((await manifestRequests(registry)).length).toBe(afterFirst);
  await tsbuildOk(['-t', target, '--pull', '--progress', 'plain', '--root', root, ctx]);
  expect((await manifestRequests(registry)).length).toBeGreaterThan(afterFirst);

  const inspect = JSON.parse(
    await tool('skopeo', ['inspect', '--tls-verify=false', `docker://${target}`]),
  ) as { Name: string };
  expect(inspect.Name).toBe(`${registry.host}/app`);
  await tool('podman', ['pull', '-q', '--tls-verify=false', target]);
  try {
    expect(await tool('podman', ['run', '--rm', target])).toBe('hello from a pushed tsbuild image\n');
  } finally {
    await tool('podman', ['rmi', '-f', target]).catch(() => '');
  }
});

test('FROM behind basic auth works with a docker config and fails in one line without it', async () => {
  const ctx = await context(`${secured.host}/busybox:latest`);
  const denied = await tsbuild(
    ['--progress', 'plain', '--root', path.join(await temps.make('s'), 's'), ctx],
    {
      env: { DOCKER_CONFIG: await temps.make('empty-config') },
    },
  );
  expect(denied.status).toBe(1);
  const message = denied.stderr.split('\n').find((l) => l.startsWith('Dockerfile:1:')) ?? '';
  expect(message).toMatch(/^Dockerfile:1: FROM .*authentication required/);
  expect(denied.stderr).not.toContain('    at ');

  const config = await dockerConfig(secured.host, 'ci', 'hunter2');
  const ok = await tsbuild(['--progress', 'plain', '--root', path.join(await temps.make('s'), 's'), ctx], {
    env: { DOCKER_CONFIG: config },
  });
  expect(ok.status).toBe(0);
});

test('--build-context NAME=oci-layout://DIR:TAG and docker-image://REF stand in for FROM NAME', async () => {
  const ctx = await context('mybase');
  const root = path.join(await temps.make('store'), 'store');
  const fromLayout = await tsbuildOk([
    '-q',
    '--root',
    root,
    '--build-context',
    `mybase=oci-layout://${layout}:latest`,
    ctx,
  ]);
  const fromImage = await tsbuildOk([
    '-q',
    '--root',
    root,
    '--build-context',
    `mybase=docker-image://${registry.host}/busybox:latest`,
    ctx,
  ]);
  // The same base either way, so the same image.
  expect(fromImage.stdout).toBe(fromLayout.stdout);
  const missing = await tsbuild(['--root', root, ctx]);
  expect(missing.status).toBe(1);
});
