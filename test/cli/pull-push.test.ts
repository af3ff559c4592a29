/**
 * `tsbuild pull` and `tsbuild push` through the compiled CLI against real registries: what a user types,
 * what they see, which exit code. The protocol itself is tested in test/image/registry.
 */
import { promises as fsp } from 'node:fs';
import { markInUse } from '../../src/cache/in-use';
import {
  buildCli,
  busyboxLayout,
  dockerConfig,
  run,
  skopeoCopy,
  startRegistry,
  tempDir,
  tsbuild,
  type TestRegistry,
} from '../helpers/registry';

let open: TestRegistry;
let locked: TestRegistry;
let root: string;
const temps: string[] = [];

beforeAll(async () => {
  buildCli();
  [open, locked] = await Promise.all([
    startRegistry(),
    startRegistry({ kind: 'basic', user: 'ci', password: 'pw' }),
  ]);
  const busybox = await busyboxLayout();
  await skopeoCopy(`oci:${busybox}:latest`, `docker://${open.host}/busybox:latest`);
  await skopeoCopy(`oci:${busybox}:latest`, `docker://${locked.host}/busybox:latest`, [
    '--dest-creds',
    'ci:pw',
  ]);
}, 300_000);

afterAll(async () => {
  await Promise.all([open?.stop(), locked?.stop()]);
  for (const dir of temps) await fsp.rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  root = await tempDir('cli-pull');
  temps.push(root);
});

describe('tsbuild pull', () => {
  it('pulls, tags and prints the name; a second pull is up to date', async () => {
    const first = await tsbuild(['pull', `${open.host}/busybox`, '--root', root]);
    expect(first.status).toBe(0);
    expect(first.stdout).toBe(`${open.host}/busybox:latest\n`);
    expect(first.stderr).toContain(': Pull complete');
    expect(first.stderr).toContain(`Status: Downloaded newer image for ${open.host}/busybox:latest`);
    // unpacked as docker pull leaves it: the layer's snapshot dir (named by its diff_id) holds the files
    const snapshots = await fsp.readdir(`${root}/snapshots`);
    const unpacked = snapshots.filter((name) => /^[0-9a-f]{64}$/.test(name));
    expect(unpacked.length).toBeGreaterThan(0);
    await expect(fsp.lstat(`${root}/snapshots/${unpacked[0]}/bin/busybox`)).resolves.toBeDefined();
    const second = await tsbuild(['pull', `${open.host}/busybox`, '--root', root]);
    expect(second.stderr).toContain(`Status: Image is up to date for ${open.host}/busybox:latest`);
    const images = await tsbuild(['images', '--root', root]);
    expect(images.stdout).toContain(`${open.host}/busybox`);
  });

  it('-q prints only the name', async () => {
    const r = await tsbuild(['pull', '-q', `${open.host}/busybox`, '--root', root]);
    expect(r).toMatchObject({ status: 0, stdout: `${open.host}/busybox:latest\n`, stderr: '' });
  });

  it('exits 1 with one line for an unknown image', async () => {
    const r = await tsbuild(['pull', `${open.host}/nope:1`, '--root', root]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`manifest unknown: ${open.host}/nope:1\n`);
  });

  it('exits 2 for a malformed reference or platform', async () => {
    const bad = await tsbuild(['pull', 'busybox:a:b', '--root', root]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('invalid reference "busybox:a:b": invalid reference format\n');
    const platform = await tsbuild([
      'pull',
      '--platform',
      'linux/what/ever/x',
      `${open.host}/busybox`,
      '--root',
      root,
    ]);
    expect(platform.status).toBe(2);
  });

  it('uses credentials from $DOCKER_CONFIG, and fails in one line without them', async () => {
    const config = await dockerConfig(locked.host, 'ci', 'pw');
    temps.push(config);
    const ok = await tsbuild(['pull', `${locked.host}/busybox`, '--root', root], {
      ...process.env,
      DOCKER_CONFIG: config,
    });
    expect(ok.status).toBe(0);
    const none = await tempDir('no-docker-config');
    temps.push(none);
    const denied = await tsbuild(['pull', `${locked.host}/busybox`, '--root', root], {
      ...process.env,
      DOCKER_CONFIG: none,
    });
    expect(denied.status).toBe(1);
    expect(denied.stderr).toBe(
      `authentication required for ${locked.host}: authentication required (no credentials for it in the docker config)\n`,
    );
    const wrong = await dockerConfig(locked.host, 'ci', 'nope');
    temps.push(wrong);
    const refused = await tsbuild(['pull', `${locked.host}/busybox`, '--root', root], {
      ...process.env,
      DOCKER_CONFIG: wrong,
    });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toBe(`authentication required for ${locked.host}: authentication required\n`);
  });

  it('takes --insecure-registry before the reference, once or repeated (one value per occurrence, as docker)', async () => {
    const once = await tsbuild([
      'pull',
      '--insecure-registry',
      open.host,
      `${open.host}/busybox:latest`,
      '--root',
      root,
    ]);
    expect(once.stderr).not.toContain('Missing');
    expect(once).toMatchObject({ status: 0, stdout: `${open.host}/busybox:latest\n` });
    const twice = await tsbuild([
      'pull',
      '-q',
      '--insecure-registry',
      'registry.invalid:5000',
      '--insecure-registry',
      open.host,
      `${open.host}/busybox:latest`,
      '--root',
      root,
    ]);
    expect(twice).toMatchObject({ status: 0, stdout: `${open.host}/busybox:latest\n`, stderr: '' });
  });
});

describe('tsbuild push', () => {
  it('pushes under another name, mounting what the registry has, and prints the digest', async () => {
    await tsbuild(['pull', '-q', `${open.host}/busybox`, '--root', root]);
    const r = await tsbuild(['push', `${open.host}/busybox`, `${open.host}/team/copy:7`, '--root', root]);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(`The push refers to repository [${open.host}/team/copy]`);
    expect(r.stderr).toContain('Mounted from busybox');
    expect(r.stdout).toMatch(/^7: digest: sha256:[a-f0-9]{64} size: \d+\n$/);
    const digest = /digest: (\S+)/.exec(r.stdout)?.[1];
    const inspected = JSON.parse(
      await run('skopeo', ['inspect', '--tls-verify=false', `docker://${open.host}/team/copy:7`]),
    ) as { Digest: string };
    expect(inspected.Digest).toBe(digest);
    const again = await tsbuild(['push', `${open.host}/busybox`, `${open.host}/team/copy:7`, '--root', root]);
    expect(again.stderr).toContain('Layer already exists');
  });

  it('takes --insecure-registry before NAME and REF', async () => {
    await tsbuild(['pull', '-q', `${open.host}/busybox`, '--root', root]);
    const r = await tsbuild([
      'push',
      '-q',
      '--insecure-registry',
      open.host,
      '--insecure-registry',
      'registry.invalid:5000',
      `${open.host}/busybox`,
      `${open.host}/team/flagged:1`,
      '--root',
      root,
    ]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    await run('skopeo', ['inspect', '--tls-verify=false', `docker://${open.host}/team/flagged:1`]);
  });

  it('exits 1 for an image that is not in the store', async () => {
    const r = await tsbuild(['push', 'ghost:1', `${open.host}/ghost:1`, '--root', root]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('no such image: ghost:1\n');
  });

  it('reports a registry that is not there after bounded retries', async () => {
    await tsbuild(['pull', '-q', `${open.host}/busybox`, '--root', root]);
    const gone = await startRegistry();
    const host = gone.host;
    await gone.stop();
    const r = await tsbuild(['push', '-q', `${open.host}/busybox`, `${host}/x:1`, '--root', root]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `^HEAD http://${host}/v2/x/blobs/sha256:[a-f0-9]{64}: connect ECONNREFUSED ${host} \\(gave up after 4 attempts\\)\\n$`,
      ),
    );
  }, 60_000);
});

/** A registry of its own holding busybox as `base:TAG`, and that image's manifest as the registry serves it. */
async function baseOnOwnRegistry(
  tag: string,
): Promise<{ reg: TestRegistry; manifest: { layers: { digest: string }[] } }> {
  const reg = await startRegistry();
  await skopeoCopy(`oci:${await busyboxLayout()}:latest`, `docker://${reg.host}/base:${tag}`);
  const raw = await run('skopeo', [
    'inspect',
    '--raw',
    '--tls-verify=false',
    `docker://${reg.host}/base:${tag}`,
  ]);
  return { reg, manifest: JSON.parse(raw) as { layers: { digest: string }[] } };
}

describe('pulled layers kept unpacked only', () => {
  it('the collector drops a pulled layer blob once unpacked; builds use the snapshot, outputs fetch it again', async () => {
    const { reg, manifest } = await baseOnOwnRegistry('1');
    try {
      const blobFiles = manifest.layers.map((l) => `${root}/blobs/sha256/${l.digest.slice(7)}`);
      const present = async (): Promise<boolean[]> =>
        Promise.all(
          blobFiles.map((f) =>
            fsp.access(f).then(
              () => true,
              () => false,
            ),
          ),
        );
      const layerGets = async (): Promise<number> =>
        (await reg.requests()).filter((r) =>
          manifest.layers.some((l) => r === `GET /v2/base/blobs/${l.digest}`),
        ).length;

      expect((await tsbuild(['pull', '-q', `${reg.host}/base:1`, '--root', root])).status).toBe(0);
      expect(await present()).toEqual(manifest.layers.map(() => true));
      // Another build that names the blob (unpacking it, say) keeps it.
      const other = await markInUse(
        root,
        manifest.layers.map((l) => l.digest),
      );
      expect((await tsbuild(['cache', 'prune', '--root', root])).status).toBe(0);
      expect(await present()).toEqual(manifest.layers.map(() => true));
      await other.release();
      expect((await tsbuild(['cache', 'prune', '--root', root])).status).toBe(0);
      // One copy of the layer: the unpacked snapshot; its registry is where the compressed blob comes from again.
      expect(await present()).toEqual(manifest.layers.map(() => false));
      const check = await tsbuild(['cache', 'check', '--root', root]);
      expect(check.status).toBe(0);
      const again = await tsbuild(['pull', `${reg.host}/base:1`, '--root', root]);
      expect(again.stderr).toContain(`Status: Image is up to date for ${reg.host}/base:1`);
      expect(await layerGets()).toBe(manifest.layers.length); // the first pull's downloads only

      // An output that carries the layers fetches them again, verified: the archive holds the registry's digests.
      const dir = await tempDir('cli-dropped');
      temps.push(dir);
      const saved = await tsbuild([
        'save',
        '--format',
        'oci',
        '-o',
        `${dir}/base.tar`,
        `${reg.host}/base:1`,
        '--root',
        root,
      ]);
      expect(saved).toMatchObject({ status: 0, stderr: '' });
      const archived = JSON.parse(
        await run('skopeo', ['inspect', '--raw', `oci-archive:${dir}/base.tar`]),
      ) as {
        layers: { digest: string }[];
      };
      expect(archived.layers.map((l) => l.digest)).toEqual(manifest.layers.map((l) => l.digest));
      expect(await layerGets()).toBe(2 * manifest.layers.length);

      // Without its registry: builds still run on the snapshot; an output that needs the blob says what is wrong.
      expect((await tsbuild(['cache', 'prune', '--root', root])).status).toBe(0);
      expect(await present()).toEqual(manifest.layers.map(() => false));
      await reg.stop();
      await fsp.writeFile(`${dir}/Dockerfile`, `FROM ${reg.host}/base:1\nRUN echo hi > /hi.txt\n`);
      const built = await tsbuild(['build', '-q', '--root', root, dir]);
      expect(built.stderr).toBe('');
      expect(built.status).toBe(0);
      const offline = await tsbuild(['save', '-o', `${dir}/again.tar`, `${reg.host}/base:1`, '--root', root]);
      expect(offline.status).toBe(1);
      expect(offline.stderr).toContain('was unpacked and its compressed blob dropped from the store');
      expect(offline.stderr).toContain(`fetching it again from ${reg.host}/base failed`);
      expect(offline.stderr).not.toMatch(/^\s+at /m);

      // Once nothing names the image, the prune removes its layers' origin notes with it.
      const origins = async (): Promise<string[]> => fsp.readdir(`${root}/origins`).catch(() => []);
      expect(await origins()).not.toEqual([]);
      expect((await tsbuild(['rmi', `${reg.host}/base:1`, '--root', root])).status).toBe(0);
      expect((await tsbuild(['cache', 'prune', '--all', '--root', root])).status).toBe(0);
      expect(await origins()).toEqual([]);
    } finally {
      await reg.stop();
    }
  }, 120_000);

  it('a build that pulled and unpacked its base drops the blob as it finishes', async () => {
    const { reg, manifest } = await baseOnOwnRegistry('2');
    try {
      const dir = await tempDir('cli-dropped-build');
      temps.push(dir);
      await fsp.writeFile(`${dir}/Dockerfile`, `FROM ${reg.host}/base:2\nRUN echo hi > /hi.txt\n`);
      const built = await tsbuild(['build', '-q', '--root', root, dir]);
      expect(built).toMatchObject({ status: 0, stderr: '' });
      for (const l of manifest.layers) {
        await expect(fsp.access(`${root}/blobs/sha256/${l.digest.slice(7)}`)).rejects.toThrow();
      }
      const again = await tsbuild(['build', '--root', root, dir]);
      expect(again.status).toBe(0);
      expect(again.stderr).toContain('CACHED');
    } finally {
      await reg.stop();
    }
  }, 60_000);
});
