/**
 * `--load`: the built image goes into a real docker engine (a private dockerd, through its API socket) or into
 * podman, and runs there at once; a rebuild after a one-file edit sends docker only the changed layer.
 */
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { busyboxContext } from '../helpers/build';
import { startPrivateDockerd, type PrivateDockerd } from '../helpers/dockerd';
import { requireE2e, requireTool, TempDirs, tsbuild, tsbuildOk } from '../helpers/e2e';

jest.setTimeout(120_000);

const temps = new TempDirs();
let engine: PrivateDockerd;

beforeAll(async () => {
  requireE2e('dockerd', 'docker', 'podman');
  engine = await startPrivateDockerd(await temps.make('dockerd'));
});
afterAll(async () => {
  await engine?.stop();
  await temps.cleanup();
});

const DOCKERFILE = [
  'FROM scratch',
  'COPY rootfs/ /',
  'RUN echo built > /built.txt',
  'COPY msg.txt /msg.txt',
  'CMD ["cat", "/msg.txt"]',
  '',
].join('\n');

test('--load puts the image into docker, where it runs; after a one-file edit only the changed layer is sent', async () => {
  const { ctx, root } = await busyboxContext(DOCKERFILE);
  await fsp.writeFile(path.join(ctx, 'msg.txt'), 'one\n');
  const env = { DOCKER_HOST: engine.host };
  const first = await tsbuildOk(['--root', root, '-t', 'loadtest', '--load', ctx], { env });
  expect(first.stderr).toContain('loaded into docker (3 of 3 layers sent)');
  expect(engine.docker(['run', '--rm', 'loadtest'])).toBe('one\n');

  await fsp.writeFile(path.join(ctx, 'msg.txt'), 'two\n');
  const second = await tsbuildOk(['--root', root, '-t', 'loadtest', '--load', ctx], { env });
  expect(second.stderr).toContain('loaded into docker (1 of 3 layers sent)');
  expect(engine.docker(['run', '--rm', 'loadtest'])).toBe('two\n');
  // The engine has the image tsbuild built: same image ID (the config digest).
  const iid = path.join(await temps.make('iid'), 'iid');
  await tsbuildOk(['--root', root, '-t', 'loadtest', '--iidfile', iid, ctx], { env });
  expect(engine.docker(['image', 'inspect', '--format', '{{.Id}}', 'loadtest']).trim()).toBe(
    (await fsp.readFile(iid, 'utf8')).trim(),
  );
});

test('--output type=docker without dest loads into docker, as buildx does', async () => {
  const { ctx, root } = await busyboxContext(DOCKERFILE);
  await fsp.writeFile(path.join(ctx, 'msg.txt'), 'out\n');
  await tsbuildOk(['--root', root, '-t', 'outtest', '--output', 'type=docker', ctx], {
    env: { DOCKER_HOST: engine.host },
  });
  expect(engine.docker(['run', '--rm', 'outtest'])).toBe('out\n');
});

test('--load=podman puts the image into podman, where it runs', async () => {
  const podman = requireTool('podman');
  const { ctx, root } = await busyboxContext(DOCKERFILE);
  await fsp.writeFile(path.join(ctx, 'msg.txt'), 'podman\n');
  const name = `tsbuild-load-test-${process.pid}`;
  const r = await tsbuildOk(['--root', root, '-t', name, '--load=podman', ctx]);
  expect(r.stderr).toContain('loaded into podman');
  try {
    const run = spawnSync(podman, ['run', '--rm', '--network', 'none', name], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('podman\n');
  } finally {
    spawnSync(podman, ['rmi', '-f', name]);
  }
});

test('with no engine answering, --load fails in one line after the build and says where it looked', async () => {
  const { ctx, root } = await busyboxContext(DOCKERFILE);
  await fsp.writeFile(path.join(ctx, 'msg.txt'), 'x\n');
  const gone = path.join(await temps.make('nosock'), 'docker.sock');
  const r = await tsbuild(['--root', root, '-t', 'nothere', '--load', ctx], {
    env: { DOCKER_HOST: `unix://${gone}` },
  });
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain(`--load: no docker engine answers at unix://${gone}`);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  const bad = await tsbuild(['--root', root, '--load=kubernetes', ctx]);
  expect(bad.status).toBe(2);
  expect(bad.stderr).toContain('invalid --load=kubernetes: docker (the default) or podman');
});
