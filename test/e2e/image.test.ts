/**
 * The images tsbuild writes are real images: skopeo inspects the OCI layout and the oci-archive, umoci
 * unpacks them with the right modes and owners, podman loads the docker-archive. The config and history of
 * the classic Dockerfile are what BuildKit writes for it.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import {
  listTree,
  modeOwner,
  readReport,
  requireE2e,
  TempDirs,
  tool,
  toolJson,
  tsbuildOk,
  unpack,
  writeTree,
} from '../helpers/e2e';

const temps = new TempDirs();
beforeAll(() => requireE2e('skopeo', 'umoci', 'podman'));
afterAll(() => temps.cleanup());

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const EPOCH = 1700000000;
const EPOCH_ISO = '2023-11-14T22:13:20Z';

const CLASSIC = `FROM scratch
WORKDIR /app
COPY package.json ./
COPY . .
ENV NODE_ENV=production
CMD ["node", "server.js"]
`;

interface SkopeoInspect {
  Digest: string;
  Labels: Record<string, string> | null;
  Env: string[];
  Layers: string[];
  Os: string;
  Architecture: string;
}

interface ImageConfig {
  created: string;
  os: string;
  architecture: string;
  config: {
    Env?: string[];
    Cmd?: string[];
    WorkingDir?: string;
    Labels?: Record<string, string>;
    ArgsEscaped?: boolean;
  };
  rootfs: { type: string; diff_ids: string[] };
  history: { created?: string; created_by?: string; comment?: string; empty_layer?: boolean }[];
}

describe('image validity (skopeo, umoci, podman)', () => {
  test('the classic Dockerfile: OCI layout, oci-archive and docker-archive, BuildKit config and history', async () => {
    const dir = await temps.make('image');
    const ctx = path.join(dir, 'ctx');
    await writeTree(ctx, {
      Dockerfile: CLASSIC,
      'package.json': '{"name":"app"}\n',
      'server.js': 'console.log("hi");\n',
    });
    // A name of our own: the podman store is shared with whatever else runs on this machine.
    const repo = `localhost/tsbuild-e2e-${process.pid}-${randomBytes(4).toString('hex')}`;
    const layout = path.join(dir, 'layout');
    const ociTar = path.join(dir, 'image-oci.tar');
    const dockerTar = path.join(dir, 'image-docker.tar');
    const reportFile = path.join(dir, 'report.json');
    await tsbuildOk(
      [
        'build',
        '-t',
        `${repo}:latest`,
        '--label',
        'org.opencontainers.image.version=1.2.3',
        '--root',
        path.join(dir, 'store'),
        '--report',
        reportFile,
        '-o',
        `type=oci,dest=${layout}`,
        '-o',
        `type=oci,dest=${ociTar}`,
        '-o',
        `type=docker,dest=${dockerTar}`,
        ctx,
      ],
      { env: { SOURCE_DATE_EPOCH: String(EPOCH) } },
    );
    const report = await readReport(reportFile);
    expect(report.image.name).toBe(`${repo}:latest`);
    const layers = report.steps.flatMap((s) => (s.layer ? [s.layer] : []));
    expect(layers).toHaveLength(3); // WORKDIR, COPY package.json, COPY . .

    // The OCI layout, by the -t tag.
    const inspect = await toolJson<SkopeoInspect>('skopeo', ['inspect', `oci:${layout}:latest`]);
    expect(inspect.Digest).toBe(report.image.manifestDigest);
    expect(inspect.Env).toEqual([DEFAULT_PATH, 'NODE_ENV=production']);
    expect(inspect.Labels).toEqual({ 'org.opencontainers.image.version': '1.2.3' });
    // Built as snapshots, compressed for the layout: the same layers by diff_id (checked with the config below).
    expect(inspect.Layers).toHaveLength(layers.length);
    expect([inspect.Os, inspect.Architecture]).toEqual(['linux', expect.any(String)]);

    // Config and history as BuildKit writes them for this Dockerfile.
    const config = await toolJson<ImageConfig>('skopeo', ['inspect', '--config', `oci:${layout}:latest`]);
    expect(config.config).toEqual({
      Env: [DEFAULT_PATH, 'NODE_ENV=production'],
      Cmd: ['node', 'server.js'],
      WorkingDir: '/app',
      Labels: { 'org.opencontainers.image.version': '1.2.3' },
      ArgsEscaped: true,
    });
    expect(config.created).toBe(EPOCH_ISO);
    expect(config.rootfs).toEqual({ type: 'layers', diff_ids: layers.map((l) => l.diffId) });
    const comment = 'buildkit.dockerfile.v0';
    expect(config.history).toEqual([
      { created: EPOCH_ISO, created_by: 'WORKDIR /app', comment },
      { created: EPOCH_ISO, created_by: 'COPY package.json ./ # buildkit', comment },
      { created: EPOCH_ISO, created_by: 'COPY . . # buildkit', comment },
      { created: EPOCH_ISO, created_by: 'ENV NODE_ENV=production', comment, empty_layer: true },
      { created: EPOCH_ISO, created_by: 'CMD ["node" "server.js"]', comment, empty_layer: true },
    ]);

    // umoci unpacks it (verifying every blob) into the files we copied.
    const rootfs = await unpack(layout, 'latest', path.join(dir, 'bundle'));
    expect(await listTree(rootfs)).toEqual(['app', 'app/Dockerfile', 'app/package.json', 'app/server.js']);
    expect(await fsp.readFile(path.join(rootfs, 'app/server.js'), 'utf8')).toBe('console.log("hi");\n');

    // The oci-archive is the same image.
    const archived = await toolJson<SkopeoInspect>('skopeo', ['inspect', `oci-archive:${ociTar}`]);
    expect(archived.Digest).toBe(report.image.manifestDigest);

    // The docker-archive loads into podman and keeps its config.
    const loaded = await tool('podman', ['load', '-i', dockerTar]);
    try {
      expect(loaded).toContain(`${repo}:latest`);
      const [image] = await toolJson<
        { Id: string; Config: { Cmd: string[]; Env: string[]; WorkingDir: string } }[]
      >('podman', ['image', 'inspect', `${repo}:latest`]);
      expect(`sha256:${image.Id}`).toBe(report.image.configDigest);
      expect(image.Config.Cmd).toEqual(['node', 'server.js']);
      expect(image.Config.Env).toEqual([DEFAULT_PATH, 'NODE_ENV=production']);
      expect(image.Config.WorkingDir).toBe('/app');
    } finally {
      await tool('podman', ['rmi', `${repo}:latest`]);
    }
  });

  test('file modes and owners survive: executable bits, COPY --chmod, COPY --chown', async () => {
    const dir = await temps.make('modes');
    const ctx = path.join(dir, 'ctx');
    await writeTree(ctx, {
      Dockerfile: [
        'FROM scratch',
        'COPY run.sh /usr/local/bin/run.sh',
        'COPY --chmod=0640 secret.txt /etc/app/secret.txt',
        'COPY --chown=1000:1000 data/ /home/app/data/',
        'COPY plain.txt /srv/plain.txt',
        '',
      ].join('\n'),
      'run.sh': '#!/bin/sh\necho hi\n',
      'secret.txt': 's3cret\n',
      'data/a.txt': 'a\n',
      'data/sub/b.txt': 'b\n',
      'plain.txt': 'plain\n',
    });
    await fsp.chmod(path.join(ctx, 'run.sh'), 0o755);
    await fsp.chmod(path.join(ctx, 'secret.txt'), 0o600);
    await fsp.chmod(path.join(ctx, 'plain.txt'), 0o644);
    for (const f of ['data/a.txt', 'data/sub/b.txt']) await fsp.chmod(path.join(ctx, f), 0o644);
    await fsp.chmod(path.join(ctx, 'data/sub'), 0o755);

    const layout = path.join(dir, 'layout');
    const local = path.join(dir, 'local');
    await tsbuildOk([
      '-t',
      'modes:v1',
      '--root',
      path.join(dir, 'store'),
      '-o',
      `type=oci,dest=${layout}`,
      '-o',
      `type=local,dest=${local}`,
      ctx,
    ]);
    const rootfs = await unpack(layout, 'v1', path.join(dir, 'bundle'));
    const files = await listTree(rootfs);
    const seen: Record<string, string> = {};
    for (const f of files) seen[f] = await modeOwner(path.join(rootfs, f));
    expect(seen).toEqual({
      usr: '0755 0:0',
      'usr/local': '0755 0:0',
      'usr/local/bin': '0755 0:0',
      'usr/local/bin/run.sh': '0755 0:0',
      etc: '0755 0:0',
      'etc/app': '0755 0:0',
      'etc/app/secret.txt': '0640 0:0',
      // BuildKit creates a --chown copy's missing parents as that owner too.
      home: '0755 1000:1000',
      'home/app': '0755 1000:1000',
      'home/app/data': '0755 1000:1000',
      'home/app/data/a.txt': '0644 1000:1000',
      'home/app/data/sub': '0755 1000:1000',
      'home/app/data/sub/b.txt': '0644 1000:1000',
      srv: '0755 0:0',
      'srv/plain.txt': '0644 0:0',
    });
    // type=local writes the same tree.
    expect(await listTree(local)).toEqual(files);
    expect(await fsp.readFile(path.join(local, 'etc/app/secret.txt'), 'utf8')).toBe('s3cret\n');
  });
});
