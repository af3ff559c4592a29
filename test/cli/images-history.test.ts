/**
 * `tsbuild images` and `tsbuild history` through the compiled CLI, on images built for real from a busybox rootfs:
 * SIZE is docker's uncompressed measure of the layers (checked against the layers' own files, measured here),
 * CREATED is docker's "… ago", and history has one row per instruction, newest first, with the layer sizes, the
 * key of the step that made each entry and whether that step hit the last time the image was built.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { dockerLayerSize, humanSize, writeBusyboxContext } from '../helpers/busybox-image';
import { TempDirs, tsbuild, tsbuildOk } from '../helpers/e2e';
import { buildCli } from '../helpers/registry';

jest.setTimeout(180_000);

const temps = new TempDirs();
let ctx: string;
let root: string;

const DOCKERFILE = [
  'FROM scratch',
  'COPY rootfs/ /',
  'ENV GREETING=hello',
  'RUN mkdir /data && echo "$GREETING world" > /data/greeting && head -c 5000 /bin/busybox > /data/part',
  'WORKDIR /data',
  'LABEL purpose=test',
  'CMD ["cat", "/data/greeting"]',
  '',
].join('\n');

/** The instructions as the history's CREATED BY gives them, newest first. */
const NEWEST_FIRST = [/^CMD \["cat" "\/data\/greeting"\]$/, /^LABEL purpose=test$/, /^WORKDIR \/data$/];

interface Config {
  rootfs: { diff_ids: string[] };
  history: { created_by: string; empty_layer?: boolean }[];
}

beforeAll(async () => {
  buildCli();
  ctx = await temps.make('images-ctx');
  root = path.join(await temps.make('images-store'), 'store');
  await writeBusyboxContext(ctx, DOCKERFILE);
});

afterAll(() => temps.cleanup());

const build = (): Promise<unknown> =>
  tsbuildOk(['build', '--root', root, '-t', 'hist:1', '--progress', 'plain', ctx]);

async function inspect(): Promise<{
  config: Config;
  id: string;
  layers: { digest: string; diffId: string }[];
}> {
  const config = JSON.parse((await tsbuildOk(['inspect', '--root', root, 'hist:1'])).stdout) as Config & {
    Id: string;
  };
  const manifest = JSON.parse(
    (await tsbuildOk(['inspect', '--root', root, '--manifest', 'hist:1'])).stdout,
  ) as {
    layers: { digest: string }[];
  };
  const layers = manifest.layers.map((l, i) => ({
    digest: l.digest,
    diffId: config.rootfs.diff_ids[i] as string,
  }));
  return { config, id: config.Id, layers };
}

/** The table's rows split on its column starts (cells may hold single spaces: `2 seconds ago`). */
function table(stdout: string): Record<string, string>[] {
  const [head = '', ...lines] = stdout.split('\n').filter((l) => l !== '');
  const starts = [...head.matchAll(/(\S+(?: \S+)*)/g)].map((m) => ({ name: m[1] as string, at: m.index }));
  return lines.map((line) =>
    Object.fromEntries(
      starts.map((c, i) => [c.name, line.slice(c.at, starts[i + 1]?.at ?? line.length).trim()] as const),
    ),
  );
}

/** The step records of the store by key, as `cache ls` reads them. */
async function recordDescriptions(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const dir = path.join(root, 'index');
  for (const name of await fsp.readdir(dir)) {
    const r = JSON.parse(await fsp.readFile(path.join(dir, name), 'utf8')) as {
      key: string;
      description: string;
    };
    out.set(r.key, r.description);
  }
  return out;
}

describe('images', () => {
  test('SIZE is the uncompressed size of the layers and CREATED how long ago the image was made', async () => {
    await build();
    const { layers, id } = await inspect();
    const scratch = await temps.make('images-measure');
    let expected = 0;
    for (const l of layers) expected += await dockerLayerSize(root, l, scratch);
    // busybox alone is about 2MB: more than any compressed size of these layers would be.
    expect(expected).toBeGreaterThan(1_900_000);

    const r = await tsbuildOk(['images', '--root', root]);
    const rows = table(r.stdout);
    expect(Object.keys(rows[0] ?? {})).toEqual(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ REPOSITORY: 'hist', TAG: '1', SIZE: humanSize(expected) });
    expect(rows[0]?.CREATED).toMatch(/^(Less than a second|1 second|\d+ seconds|About a minute) ago$/);

    // A second listing reads the sizes it noted, and says the same (CREATED may have ticked on meanwhile).
    const withoutCreated = (rows: Record<string, string>[]): Record<string, string>[] =>
      rows.map(({ CREATED: _created, ...rest }) => rest);
    expect(withoutCreated(table((await tsbuildOk(['images', '--root', root])).stdout))).toEqual(
      withoutCreated(rows),
    );
    // The flags it had still work.
    const manifest = JSON.parse(
      (await tsbuildOk(['inspect', '--root', root, '--manifest', 'hist:1'])).stdout,
    );
    expect(manifest).toBeDefined();
    // As docker's: -q prints image ids (the config digest), 12 hex digits unless --no-trunc; --digests adds the
    // manifest digest.
    const q = await tsbuildOk(['images', '--root', root, '-q']);
    const full = await tsbuildOk(['images', '--root', root, '-q', '--no-trunc']);
    expect(full.stdout).toBe(`${id}\n`);
    expect(q.stdout).toBe(`${id.slice(7, 19)}\n`);
    expect(rows[0]?.['IMAGE ID']).toBe(id.slice(7, 19));
    const digests = await tsbuildOk(['images', '--root', root, '--digests']);
    expect(Object.keys(table(digests.stdout)[0] ?? {})).toEqual([
      'REPOSITORY',
      'TAG',
      'DIGEST',
      'IMAGE ID',
      'CREATED',
      'SIZE',
    ]);
    // The tag's manifest, as the store's OCI index names it.
    const index = JSON.parse(await fsp.readFile(path.join(root, 'images', 'index.json'), 'utf8')) as {
      manifests: { digest: string }[];
    };
    expect(table(digests.stdout)[0]?.DIGEST).toBe(index.manifests[0]?.digest);
  });
});

describe('history', () => {
  test('one row per instruction, newest first, with sizes, step keys and each step a miss on the first build', async () => {
    await fsp.rm(root, { recursive: true, force: true });
    await build();
    const { config, id, layers } = await inspect();
    const r = await tsbuildOk(['history', '--root', root, 'hist:1']);
    const head = r.stdout.split('\n')[0];
    expect(head).toMatch(/^IMAGE +CREATED +CREATED BY +SIZE +COMMENT +CACHE KEY +LAST BUILD$/);
    const rows = table(r.stdout);
    expect(rows).toHaveLength(6);
    expect(rows.map((row) => row.IMAGE)).toEqual([id.slice(7, 19), ...Array(5).fill('<missing>')]);
    NEWEST_FIRST.forEach((re, i) => expect(rows[i]?.['CREATED BY']).toMatch(re));
    expect(rows[3]?.['CREATED BY']).toMatch(/^RUN \/bin\/sh -c mkdir \/data/);
    // Truncated as docker truncates: 45 characters, the last an ellipsis.
    expect([...(rows[3]?.['CREATED BY'] ?? '')]).toHaveLength(45);
    expect(rows[3]?.['CREATED BY']).toMatch(/…$/);
    expect(rows[4]?.['CREATED BY']).toBe('ENV GREETING=hello');
    expect(rows[5]?.['CREATED BY']).toMatch(/^COPY rootfs\/ \//);
    for (const row of rows) {
      expect(row.CREATED).toMatch(/ ago$/);
      expect(row.COMMENT).toBe('buildkit.dockerfile.v0');
      expect(row['LAST BUILD']).toBe('miss');
      expect(row['CACHE KEY']).toMatch(/^[0-9a-f]{12}$/);
    }

    // SIZE: each layer's own files (COPY, RUN, WORKDIR from the bottom up); 0B for the config-only entries.
    const scratch = await temps.make('history-measure');
    const sizes = await Promise.all(layers.map((l) => dockerLayerSize(root, l, scratch)));
    expect(config.history.filter((h) => h.empty_layer !== true)).toHaveLength(layers.length);
    expect(rows.map((row) => row.SIZE)).toEqual([
      '0B',
      '0B',
      humanSize(sizes[2] ?? -1),
      humanSize(sizes[1] ?? -1),
      '0B',
      humanSize(sizes[0] ?? -1),
    ]);
    expect(sizes[1]).toBe('hello world\n'.length + 5000);

    // The keys are the records of the steps that made the entries.
    const full = table((await tsbuildOk(['history', '--root', root, '--no-trunc', 'hist:1'])).stdout);
    const records = await recordDescriptions();
    const described = full.map((row) => records.get(row['CACHE KEY'] ?? ''));
    expect(described).toEqual([
      'CMD ["cat", "/data/greeting"]',
      'LABEL purpose=test',
      'WORKDIR /data',
      expect.stringMatching(/^RUN mkdir \/data/),
      'ENV GREETING=hello',
      'COPY rootfs/ /',
    ]);
    expect(full[0]?.IMAGE).toBe(id);
    expect(full[3]?.['CREATED BY']).toBe(config.history[2]?.created_by);
    expect(full.map((row) => row['CACHE KEY']?.slice(7, 19))).toEqual(rows.map((row) => row['CACHE KEY']));
  });

  test('a rebuild that hits throughout gives the same image, and its history says every step hit', async () => {
    await fsp.rm(root, { recursive: true, force: true });
    await build();
    const first = table((await tsbuildOk(['history', '--root', root, 'hist:1'])).stdout);
    await build();
    const second = table((await tsbuildOk(['history', '--root', root, 'hist:1'])).stdout);
    expect(second.map((row) => row['LAST BUILD'])).toEqual(Array(6).fill('hit'));
    expect(second.map((row) => [row.IMAGE, row['CACHE KEY'], row.SIZE])).toEqual(
      first.map((row) => [row.IMAGE, row['CACHE KEY'], row.SIZE]),
    );

    // An edit of the ENV the RUN reads: from there on every step misses; the COPY below still hits.
    await fsp.writeFile(path.join(ctx, 'Dockerfile'), DOCKERFILE.replace('GREETING=hello', 'GREETING=bye'));
    try {
      await build();
      const edited = table((await tsbuildOk(['history', '--root', root, 'hist:1'])).stdout);
      expect(edited.map((row) => row['LAST BUILD'])).toEqual(['miss', 'miss', 'miss', 'miss', 'miss', 'hit']);
      expect(edited[5]?.['CACHE KEY']).toBe(first[5]?.['CACHE KEY']);
    } finally {
      await fsp.writeFile(path.join(ctx, 'Dockerfile'), DOCKERFILE);
    }
    // Built back, the first image is what the last build gave again: its record says so.
    await build();
    const back = table((await tsbuildOk(['history', '--root', root, 'hist:1'])).stdout);
    expect(back.map((row) => [row.IMAGE, row['LAST BUILD']])).toEqual(first.map((row) => [row.IMAGE, 'hit']));
  });

  test('-q prints the ids, --format json one object per row', async () => {
    const { id } = await inspect();
    const q = await tsbuildOk(['history', '--root', root, '-q', 'hist:1']);
    expect(q.stdout).toBe(`${id.slice(7, 19)}\n${'<missing>\n'.repeat(5)}`);
    const json = await tsbuildOk(['history', '--root', root, '--format', 'json', 'hist:1']);
    const docs = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(docs).toHaveLength(6);
    expect(Object.keys(docs[0] ?? {}).sort()).toEqual(
      [
        'CacheKey',
        'Comment',
        'CreatedAt',
        'CreatedBy',
        'CreatedSince',
        'ID',
        'LastBuild',
        'Size',
        'SizeBytes',
      ].sort(),
    );
    expect(docs[0]).toMatchObject({ ID: id.slice(7, 19), Size: '0B', SizeBytes: 0, LastBuild: 'hit' });
    // By image id too, as docker takes it.
    const byId = await tsbuildOk(['history', '--root', root, '-q', id.slice(7, 15)]);
    expect(byId.stdout).toBe(q.stdout);
  });

  test('an unknown image is a one-line error, exit 1', async () => {
    const r = await tsbuild(['history', '--root', root, 'nope:1']);
    expect(r).toMatchObject({ status: 1, stdout: '', stderr: 'no such image: nope:1\n' });
  });
});
