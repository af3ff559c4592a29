import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import * as path from 'node:path';
import { busyboxLayout, skopeoCopy, startRegistry, type TestRegistry } from '../helpers/registry';
import { readReport, requireE2e, TempDirs, tsbuildOk, writeTree, type Report } from '../helpers/e2e';

/**
 * The cache in CI (issue #6, checks 1–3): a build exported with `--cache-to` to a directory or a registry makes a
 * fresh store hit every step, multi-stage included, while fetching only the layers the final image needs; the
 * exported directory stays near one build's size however often it is re-exported; `mode=min`, inline caches and
 * cache-mount export do what they say.
 */

jest.setTimeout(300_000);

const temps = new TempDirs();
let registry: TestRegistry;
let base: string;

beforeAll(async () => {
  requireE2e('skopeo', 'docker-registry', 'umoci', 'runc');
  const layout = await busyboxLayout();
  registry = await startRegistry();
  base = `${registry.host}/busybox:latest`;
  await skopeoCopy(`oci:${layout}:latest`, `docker://${base}`);
});

afterAll(async () => {
  await registry?.stop();
  await temps.cleanup();
});

/** Two builder stages (one makes a big layer the final image never holds) and a final stage copying from both. */
async function multiStageContext(): Promise<string> {
  const dir = await temps.make('cachectx');
  await writeTree(dir, {
    Dockerfile: [
      `FROM ${base} AS deps`,
      'WORKDIR /src',
      'COPY deps.txt .',
      'RUN mkdir -p /out && cp deps.txt /out/deps && dd if=/dev/urandom of=/big bs=1024 count=256 2>/dev/null',
      'COPY src/ ./src/',
      'RUN cat deps.txt src/* > /out/app',
      '',
      `FROM ${base} AS tools`,
      'RUN mkdir -p /opt && echo tool > /opt/tool',
      '',
      `FROM ${base}`,
      'COPY --from=deps /out/app /app/app',
      'COPY --from=tools /opt/tool /app/tool',
      'CMD ["cat", "/app/app"]',
      '',
    ].join('\n'),
    'deps.txt': 'left-pad 1.3.0\n',
    'src/a.txt': 'alpha\n',
    'src/b.txt': 'beta\n',
  });
  return dir;
}

async function buildWith(
  ctx: string,
  root: string,
  extra: string[],
): Promise<{ report: Report; id: string; stderr: string }> {
  const out = await temps.make('out');
  const reportFile = path.join(out, 'report.json');
  const iid = path.join(out, 'iid');
  const run = await tsbuildOk([
    '--progress',
    'plain',
    '--root',
    root,
    '--insecure-registry',
    registry.host,
    '--report',
    reportFile,
    '--iidfile',
    iid,
    ...extra,
    ctx,
  ]);
  return { report: await readReport(reportFile), id: await fsp.readFile(iid, 'utf8'), stderr: run.stderr };
}

/** The manifest an OCI layout names `tag`. */
async function layoutManifest(layout: string, tag: string): Promise<{ layers: Array<{ digest: string }> }> {
  const blob = (d: string): Promise<string> =>
    fsp.readFile(path.join(layout, 'blobs', 'sha256', d.slice('sha256:'.length)), 'utf8');
  const index = JSON.parse(await fsp.readFile(path.join(layout, 'index.json'), 'utf8')) as {
    manifests: Array<{ digest: string; annotations?: Record<string, string> }>;
  };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (entry === undefined) throw new Error(`no ${tag} in ${layout}`);
  return JSON.parse(await blob(entry.digest)) as { layers: Array<{ digest: string }> };
}

async function hasBlob(root: string, digest: string): Promise<boolean> {
  return fsp
    .access(path.join(root, 'blobs', 'sha256', digest.slice('sha256:'.length)))
    .then(() => true)
    .catch(() => false);
}

/** Layers made by steps of the builder stages: the final image does not hold them. */
function builderLayers(report: Report): string[] {
  return report.steps
    .filter((s) => s.stage !== report.steps[report.steps.length - 1].stage && s.layer !== null)
    .map((s) => (s.layer as { digest: string }).digest);
}

function runSteps(report: Report): Report['steps'] {
  return report.steps.filter((s) => s.instruction.startsWith('RUN'));
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await fsp.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += (await fsp.stat(path.join(e.parentPath, e.name))).size;
  }
  return total;
}

test('type=local: a fresh store hits every step of every stage and fetches only the final image layers', async () => {
  const ctx = await multiStageContext();
  const cacheDir = path.join(await temps.make('cache'), 'ci-cache');
  const a = await buildWith(ctx, await temps.make('storeA'), ['--cache-to', `type=local,dest=${cacheDir}`]);
  expect(runSteps(a.report).every((s) => s.cache === 'miss')).toBe(true);
  await expect(fsp.readFile(path.join(cacheDir, 'index.json'), 'utf8')).resolves.toContain('latest');

  const rootB = await temps.make('storeB');
  const b = await buildWith(ctx, rootB, ['--cache-from', `type=local,src=${cacheDir}`]);
  expect(b.report.steps.filter((s) => s.cache === 'miss')).toEqual([]);
  expect(b.id).toBe(a.id);
  const unneeded = builderLayers(a.report);
  expect(unneeded.length).toBeGreaterThanOrEqual(3);
  for (const d of unneeded) expect(await hasBlob(rootB, d)).toBe(false);
  expect(b.stderr).toMatch(/cache: \d+ of \d+ steps hit imported records/);
  // Each hit says it came from the imported cache, in the report as in the build's history.
  expect(b.report.steps.filter((s) => s.imported !== true)).toEqual([]);
  expect(b.report.summary.importedHits).toBe(b.report.steps.length);

  // Imported hits whose layers came over are local records now: without --cache-from the final stage still hits
  // (builder steps whose layers stayed remote are not kept: nothing could fetch them later).
  const again = await buildWith(ctx, rootB, []);
  const final = again.report.steps[again.report.steps.length - 1].stage;
  expect(again.report.steps.filter((s) => s.stage === final).every((s) => s.cache === 'hit')).toBe(true);
  expect(again.report.steps.filter((s) => s.imported === true)).toEqual([]);
  // cache explain says where the hits came from: all of b's from the cache, none of the rebuild's.
  const reports = await temps.make('reports');
  const files = ['a', 'b', 'again'].map((n) => path.join(reports, `${n}.json`));
  await Promise.all([a, b, again].map((r, i) => fsp.writeFile(files[i], JSON.stringify(r.report))));
  const explain = async (older: string, newer: string): Promise<unknown> =>
    JSON.parse(
      (await tsbuildOk(['cache', 'explain', '--report', older, '--report', newer, '--json'])).stdout,
    );
  expect(await explain(files[0], files[1])).toMatchObject({ imported: b.report.steps.length });
  expect(await explain(files[1], files[2])).toMatchObject({ imported: 0 });
  const text = await tsbuildOk(['cache', 'explain', '--report', files[0], '--report', files[1]]);
  expect(text.stdout).toContain(`${b.report.steps.length} of the hits came from a --cache-from cache`);
});

/** The digest of the gzip blob in a cache directory that decompresses to the layer `diffId`. */
async function compressedBlobOf(cacheDir: string, diffId: string): Promise<string> {
  const dir = path.join(cacheDir, 'blobs', 'sha256');
  for (const name of await fsp.readdir(dir)) {
    const bytes = await fsp.readFile(path.join(dir, name));
    if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) continue;
    if (`sha256:${createHash('sha256').update(gunzipSync(bytes)).digest('hex')}` === diffId)
      return `sha256:${name}`;
  }
  throw new Error(`no blob of layer ${diffId} in ${cacheDir}`);
}

test('a cache directory that lost a layer it lists: the build starts over without it instead of failing', async () => {
  const ctx = await multiStageContext();
  const cacheDir = path.join(await temps.make('cache'), 'partial');
  const a = await buildWith(ctx, await temps.make('storeA'), ['--cache-to', `type=local,dest=${cacheDir}`]);
  // The last layer of the final image: whatever hits, writing the image needs it.
  const final = a.report.steps[a.report.steps.length - 1].stage;
  const needed = a.report.steps.filter((s) => s.stage === final && s.layer !== null).at(-1)?.layer;
  expect(needed).toBeDefined();
  // The layer was built here as a snapshot; the cache holds it compressed, under the compressed digest.
  const lost = await compressedBlobOf(cacheDir, (needed as { diffId: string }).diffId);
  await fsp.rm(path.join(cacheDir, 'blobs', 'sha256', lost.slice(7)));

  const rootfs = path.join(await temps.make('out'), 'rootfs');
  const b = await buildWith(ctx, await temps.make('storeB'), [
    '--cache-from',
    `type=local,src=${cacheDir}`,
    '-o',
    `type=local,dest=${rootfs}`,
  ]);
  expect(b.stderr).toContain(`cannot fetch ${lost} from cache directory`);
  expect(b.stderr).toContain('building again without --cache-from');
  // The report is the second attempt's: every step once; the image holds what the Dockerfile makes.
  expect(b.report.steps.map((s) => `${s.stage}/${s.index}`)).toEqual(
    a.report.steps.map((s) => `${s.stage}/${s.index}`),
  );
  expect(await fsp.readFile(path.join(rootfs, 'app/app'), 'utf8')).toBe('left-pad 1.3.0\nalpha\nbeta\n');
});

test('type=registry through a real registry: a fresh store hits every step and GETs only needed blobs', async () => {
  const ctx = await multiStageContext();
  const ref = `${registry.host}/app-cache:main`;
  const a = await buildWith(ctx, await temps.make('storeA'), ['--cache-to', `type=registry,ref=${ref}`]);
  const before = (await registry.requests()).length;

  const rootC = await temps.make('storeC');
  const c = await buildWith(ctx, rootC, ['--cache-from', `type=registry,ref=${ref}`]);
  expect(c.report.summary.misses).toBe(0);
  expect(c.id).toBe(a.id);
  const gets = (await registry.requests())
    .slice(before)
    .filter((l) => /GET \/v2\/app-cache\/blobs\//.test(l));
  for (const d of builderLayers(a.report)) {
    expect(gets.some((l) => l.includes(d))).toBe(false);
    expect(await hasBlob(rootC, d)).toBe(false);
  }
});

test('a CI push from a fresh store mounts the layers the registry cache holds: none passes through this machine', async () => {
  const ctx = await multiStageContext();
  const cacheRef = `${registry.host}/ci-cache:main`;
  const a = await buildWith(ctx, await temps.make('storeA'), ['--cache-to', `type=registry,ref=${cacheRef}`]);
  const before = (await registry.requests()).length;

  const rootC = await temps.make('storeC');
  const target = `${registry.host}/ci-app:1`;
  const c = await buildWith(ctx, rootC, [
    '--cache-from',
    `type=registry,ref=${cacheRef}`,
    '--cache-to',
    `type=registry,ref=${cacheRef}`,
    '-t',
    target,
    '--push',
  ]);
  expect(c.report.summary.misses).toBe(0);
  expect(c.id).toBe(a.id);
  expect(c.stderr).toMatch(/fetched no blobs/);
  expect(c.stderr).toContain(`not tagged here: its layers stayed in the registry`);
  // The pushed image is whole in the registry: skopeo copies it out, verifying every blob.
  const layout = path.join(await temps.make('pulled'), 'oci');
  await skopeoCopy(`docker://${target}`, `oci:${layout}:app`, ['--src-tls-verify=false']);
  const requests = (await registry.requests()).slice(before);
  const copyLayers = (await layoutManifest(layout, 'app')).layers.slice(1).map((l) => l.digest); // the COPY --froms
  expect(copyLayers.length).toBe(2);
  for (const d of copyLayers) {
    const hex = d.slice('sha256:'.length); // the query spells the colon %3A
    const build = requests.slice(0, requests.indexOf('PUT /v2/ci-app/manifests/1'));
    expect(build.filter((l) => /^(GET|PATCH|PUT) /.test(l) && l.includes(hex))).toEqual([]);
    expect(
      build.filter((l) => l.startsWith('POST /v2/ci-app/blobs/uploads/?mount=') && l.includes(hex)),
    ).toEqual([`POST /v2/ci-app/blobs/uploads/?mount=sha256%3A${hex}&from=ci-cache`]);
    expect(await hasBlob(rootC, d)).toBe(false);
  }
  // The base image's layer stays in its registry as well: only its manifest and config are read, the push
  // mounts the layer from the base's repository.
  const baseLayer = (await layoutManifest(layout, 'app')).layers[0]?.digest ?? '';
  const baseHex = baseLayer.slice('sha256:'.length);
  const beforePut = requests.slice(0, requests.indexOf('PUT /v2/ci-app/manifests/1'));
  expect(beforePut.filter((l) => l.startsWith('GET ') && l.includes(baseHex))).toEqual([]);
  expect(
    beforePut.filter((l) => l.startsWith('POST /v2/ci-app/blobs/uploads/?mount=') && l.includes(baseHex)),
  ).toHaveLength(1);
  expect(await hasBlob(rootC, baseLayer)).toBe(false);
  // The base stays tagged: its layers' registry is noted, so the store is whole for `cache check`.
  const checked = await tsbuildOk(['cache', 'check', '--root', rootC]);
  expect(checked.stdout).not.toMatch(/missing|corrupt|removed/i);
  const listed = await tsbuildOk(['images', '--root', rootC]);
  expect(listed.stdout).not.toContain('ci-app');
  expect(listed.stdout).toContain('busybox');

  // Pushed to another registry (no mount possible), the layers are fetched from the cache and uploaded.
  const other = await startRegistry();
  try {
    const d = await buildWith(ctx, await temps.make('storeD'), [
      '--insecure-registry',
      other.host,
      '--cache-from',
      `type=registry,ref=${cacheRef}`,
      '-t',
      `${other.host}/ci-app:1`,
      '--push',
    ]);
    expect(d.report.summary.misses).toBe(0);
    await skopeoCopy(`docker://${other.host}/ci-app:1`, `oci:${layout}:other`, ['--src-tls-verify=false']);
  } finally {
    await other.stop();
  }
});

test('mode=min keeps only the final stage: it hits, and the builder stages are keyed ahead, never run', async () => {
  const ctx = await multiStageContext();
  const cacheDir = path.join(await temps.make('cache'), 'min');
  const a = await buildWith(ctx, await temps.make('storeA'), [
    '--cache-to',
    `type=local,dest=${cacheDir},mode=min`,
  ]);
  const b = await buildWith(ctx, await temps.make('storeB'), ['--cache-from', `type=local,src=${cacheDir}`]);
  const final = a.report.steps[a.report.steps.length - 1].stage;
  expect(b.report.steps.every((s) => s.stage === final && s.cache === 'hit')).toBe(true);
  expect(runSteps(b.report)).toEqual([]);
  expect(b.id).toBe(a.id);

  // A change in a builder stage: now it runs (its steps were never exported, so they all miss).
  await fsp.writeFile(path.join(ctx, 'src/b.txt'), 'beta 2\n');
  const c = await buildWith(ctx, await temps.make('storeC'), ['--cache-from', `type=local,src=${cacheDir}`]);
  expect(runSteps(c.report).some((s) => s.cache === 'miss')).toBe(true);
});

test('re-exporting twenty changing builds into one directory keeps it near one build in size', async () => {
  const ctx = await temps.make('churn');
  const cacheDir = path.join(await temps.make('cache'), 'churn');
  const root = await temps.make('storeChurn');
  let first = 0;
  for (let i = 0; i < 20; i++) {
    await writeTree(ctx, {
      Dockerfile: 'FROM scratch\nCOPY static.bin /static.bin\nCOPY changing.txt /changing.txt\n',
      'static.bin': 'x'.repeat(64 * 1024),
      // Random bytes compress poorly, so each build's layer really costs its size.
      'changing.txt': `${i}\n${Buffer.from(Array.from({ length: 48 * 1024 }, (_, j) => (i * 7919 + j * 104729) % 251)).toString('base64')}\n`,
    });
    await buildWith(ctx, root, ['--cache-to', `type=local,dest=${cacheDir}`]);
    if (i === 0) first = await dirBytes(cacheDir);
  }
  // The build history the cache carries for `cache report` grows by one small record a build up to its own bound
  // (checked in cache-report.test.ts); the layers and records are what must not pile up.
  const last = (await dirBytes(cacheDir)) - (await carriedHistoryBytes(cacheDir));
  expect(last).toBeLessThan(first * 1.5);
  const blobs = await fsp.readdir(path.join(cacheDir, 'blobs', 'sha256'));
  expect(blobs.length).toBeLessThan(12);
});

/** The bytes the carried build history takes in a local cache's config (all but the first build's record). */
async function carriedHistoryBytes(dir: string): Promise<number> {
  const blob = (d: string): string => path.join(dir, 'blobs', 'sha256', d.slice(7));
  const index = JSON.parse(await fsp.readFile(path.join(dir, 'index.json'), 'utf8')) as {
    manifests: { digest: string }[];
  };
  const manifest = JSON.parse(await fsp.readFile(blob(index.manifests[0].digest), 'utf8')) as {
    config: { digest: string };
  };
  const config = JSON.parse(await fsp.readFile(blob(manifest.config.digest), 'utf8')) as {
    builds?: unknown[];
  };
  return (config.builds ?? []).slice(1).reduce<number>((n, b) => n + JSON.stringify(b).length + 1, 0);
}

test('type=inline: the pushed image carries its own cache', async () => {
  const ctx = await multiStageContext();
  const ref = `${registry.host}/app:inline`;
  const a = await buildWith(ctx, await temps.make('storeA'), [
    '-t',
    ref,
    '--push',
    '--cache-to',
    'type=inline',
  ]);
  const b = await buildWith(ctx, await temps.make('storeB'), ['--cache-from', ref]);
  const final = b.report.steps[b.report.steps.length - 1].stage;
  expect(b.report.steps.filter((s) => s.stage === final).every((s) => s.cache === 'hit')).toBe(true);
  expect(b.id).toBe(a.id);
});

test('cache-mounts=true carries a RUN cache mount to a fresh store', async () => {
  const ctx = await temps.make('mountctx');
  await writeTree(ctx, {
    Dockerfile: [
      `FROM ${base}`,
      'ARG STEP=1',
      "RUN --mount=type=cache,target=/cache,id=warm sh -c 'if [ -f /cache/seen ]; then echo WARM-$STEP; else echo COLD-$STEP; fi; echo $STEP > /cache/seen'",
      '',
    ].join('\n'),
  });
  const cacheDir = path.join(await temps.make('cache'), 'mounts');
  const a = await buildWith(ctx, await temps.make('storeA'), [
    '--cache-to',
    `type=local,dest=${cacheDir},cache-mounts=true`,
  ]);
  expect(a.stderr).toContain('COLD-1');
  const b = await buildWith(ctx, await temps.make('storeB'), [
    '--build-arg',
    'STEP=2',
    '--cache-from',
    `type=local,src=${cacheDir}`,
  ]);
  expect(b.stderr).toContain('WARM-2');
});

test('a builder stage that was keyed ahead and not run still passes its cache mount on to the next export', async () => {
  const ctx = await temps.make('mounthop');
  await writeTree(ctx, {
    Dockerfile: [
      `FROM ${base} AS builder`,
      'ARG STEP=1',
      "RUN --mount=type=cache,target=/cache,id=hop sh -c 'if [ -f /cache/seen ]; then echo WARM-$STEP; else echo COLD-$STEP; fi; echo $STEP > /cache/seen; echo built > /out'",
      `FROM ${base}`,
      'COPY --from=builder /out /out',
      '',
    ].join('\n'),
  });
  const first = path.join(await temps.make('cache'), 'hop1');
  const second = path.join(await temps.make('cache'), 'hop2');
  const a = await buildWith(ctx, await temps.make('storeA'), [
    '--cache-to',
    `type=local,dest=${first},cache-mounts=true`,
  ]);
  expect(a.stderr).toContain('COLD-1');
  // Machine B: the final stage hits, so the builder never runs; its cache mount is exported all the same.
  const b = await buildWith(ctx, await temps.make('storeB'), [
    '--cache-from',
    `type=local,src=${first}`,
    '--cache-to',
    `type=local,dest=${second},cache-mounts=true`,
  ]);
  expect(runSteps(b.report)).toEqual([]);
  // Machine C: the builder changes and runs, with the cache mount from A by way of B.
  const c = await buildWith(ctx, await temps.make('storeC'), [
    '--build-arg',
    'STEP=3',
    '--cache-from',
    `type=local,src=${second}`,
  ]);
  expect(c.stderr).toContain('WARM-3');
});

test('a --cache-from that does not exist yet (the first CI run) is a warning, not a failure', async () => {
  const ctx = await multiStageContext();
  const b = await buildWith(ctx, await temps.make('storeB'), [
    '--cache-from',
    `type=local,src=${path.join(await temps.make('cache'), 'never-written')}`,
  ]);
  expect(b.stderr).toMatch(/warning: .*no cache/i);
  expect(runSteps(b.report).every((s) => s.cache === 'miss')).toBe(true);
});

test('a fresh store explains its misses against the build that exported the cache (changed file named)', async () => {
  const ctx = await multiStageContext();
  const cacheDir = path.join(await temps.make('cache'), 'explain');
  await buildWith(ctx, await temps.make('storeA'), ['--cache-to', `type=local,dest=${cacheDir}`]);
  await fsp.writeFile(path.join(ctx, 'src', 'a.txt'), 'alpha, edited\n');
  const b = await buildWith(ctx, await temps.make('storeB'), ['--cache-from', `type=local,src=${cacheDir}`]);
  const copy = b.report.steps.find((s) => s.instruction === 'COPY src/ ./src/');
  expect(copy?.cache).toBe('miss');
  expect(copy?.reason).toContain('src/a.txt');
  expect(b.report.steps.find((s) => s.instruction === 'COPY deps.txt .')?.cache).toBe('hit');
});
