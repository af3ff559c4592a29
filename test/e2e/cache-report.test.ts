import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { busyboxLayout, skopeoCopy, startRegistry, type TestRegistry } from '../helpers/registry';
import { readReport, requireE2e, TempDirs, tsbuildOk, writeTree, type Report } from '../helpers/e2e';
import { ownCause } from '../../src/cache/miss-causes';
import { MAX_CARRIED_BUILDS } from '../../src/cache/build-log';
import type { DockerfileReport } from '../../src/cache/cache-report';

/**
 * `tsbuild cache report` over a scripted series of 20 builds (issue 18, check 1): source edits, a lockfile edit, a
 * build arg, a base image pushed anew under its tag, and stores that start empty and import the cache from a
 * registry, as CI machines do. The report made in the last store, which saw only its own builds and what the cache
 * carried to it, counts every build, and its numbers are the 20 `--report` files' numbers. The carried history
 * stays bounded however often the cache is re-exported (check 3).
 */

jest.setTimeout(300_000);

const temps = new TempDirs();
let registry: TestRegistry;

beforeAll(async () => {
  requireE2e('skopeo', 'docker-registry', 'umoci', 'runc');
  registry = await startRegistry();
  await skopeoCopy(`oci:${await busyboxLayout()}:latest`, `docker://${registry.host}/busybox:latest`);
  await skopeoCopy(`oci:${await busyboxLayout()}:latest`, `docker://${registry.host}/base:latest`);
});

afterAll(async () => {
  await registry?.stop();
  await temps.cleanup();
});

/** The base image pushed anew under the same tag, with one more file: every build standing on it misses. */
async function bumpBase(n: number): Promise<void> {
  const ctx = await temps.make('base-bump');
  const root = path.join(await temps.make('base-store'), 'store');
  await writeTree(ctx, {
    Dockerfile: `FROM ${registry.host}/busybox:latest\nCOPY v /base-version\n`,
    v: `${n}\n`,
  });
  await tsbuildOk([
    '-t',
    `${registry.host}/base:latest`,
    '--push',
    '--insecure-registry',
    registry.host,
    '--root',
    root,
    ctx,
  ]);
}

test('twenty builds across fresh stores: the report counts what the twenty build reports say', async () => {
  const ctx = await temps.make('report-ctx');
  await writeTree(ctx, {
    Dockerfile: [
      `FROM ${registry.host}/base:latest`,
      'WORKDIR /app',
      'COPY package.json package-lock.json ./',
      'RUN sleep 0.2 && cat package-lock.json > deps',
      'ARG VERSION=1',
      'COPY . .',
      'RUN sleep 0.1 && cat src/* > out && echo "$VERSION" > version',
      '',
    ].join('\n'),
    'package.json': '{"name":"app"}\n',
    'package-lock.json': 'lock 1\n',
    'src/a.js': 'a 1\n',
    'src/b.js': 'b 1\n',
    '.dockerignore': 'reports/\n',
  });
  const cache = `${registry.host}/app:buildcache`;
  const reports: Report[] = [];
  let n = 0;
  const build = async (root: string, extra: string[] = []): Promise<void> => {
    const report = path.join(ctx, 'reports', `r${++n}.json`);
    await fsp.mkdir(path.dirname(report), { recursive: true });
    await tsbuildOk([
      '--progress',
      'plain',
      '--report',
      report,
      '--pull',
      '--insecure-registry',
      registry.host,
      '--cache-from',
      `type=registry,ref=${cache}`,
      '--cache-to',
      `type=registry,ref=${cache},mode=max`,
      '--root',
      root,
      ...extra,
      ctx,
    ]);
    reports.push(await readReport(report));
  };
  const edit = (file: string, text: string): Promise<void> => fsp.writeFile(path.join(ctx, file), text);
  const store = async (): Promise<string> => path.join(await temps.make('report-store'), 'store');

  // A laptop-like store: first build, a no-op, source edits, a lockfile edit.
  const a = await store();
  await build(a);
  await build(a);
  await edit('src/a.js', 'a 2\n');
  await build(a);
  await edit('src/b.js', 'b 2\n');
  await build(a);
  await edit('package-lock.json', 'lock 2\n');
  await build(a);
  await build(a, ['--build-arg', 'VERSION=2']);
  // CI: every build in a store of its own, the cache (and the builds before) from the registry.
  await build(await store(), ['--build-arg', 'VERSION=2']);
  await edit('src/a.js', 'a 3\n');
  await build(await store(), ['--build-arg', 'VERSION=2']);
  await bumpBase(2);
  await build(await store(), ['--build-arg', 'VERSION=2']);
  await build(await store(), ['--build-arg', 'VERSION=3']);
  await edit('package-lock.json', 'lock 3\n');
  await build(await store(), ['--build-arg', 'VERSION=3']);
  await build(await store(), ['--build-arg', 'VERSION=3']);
  // Another long-lived store for the rest.
  const c = await store();
  await edit('src/b.js', 'b 3\n');
  await build(c, ['--build-arg', 'VERSION=3']);
  await build(c, ['--build-arg', 'VERSION=3']);
  await bumpBase(3);
  await build(c, ['--build-arg', 'VERSION=3']);
  await edit('src/a.js', 'a 4\n');
  await edit('src/b.js', 'b 4\n');
  await build(c, ['--build-arg', 'VERSION=3']);
  await build(c, ['--build-arg', 'VERSION=4']);
  await build(c, ['--build-arg', 'VERSION=4']);
  await edit('package-lock.json', 'lock 4\n');
  await build(c, ['--build-arg', 'VERSION=4']);
  await build(c, ['--build-arg', 'VERSION=4']);
  expect(reports).toHaveLength(20);

  const out = await tsbuildOk(['cache', 'report', '--format', 'json', '--root', c]);
  const doc = JSON.parse(out.stdout) as { reports: DockerfileReport[] };
  expect(doc.reports).toHaveLength(1);
  const [r] = doc.reports;
  expect(r.dockerfile).toBe('Dockerfile');
  expect(r.builds).toBe(20);

  for (const s of r.steps) {
    const runs = reports.map((rep) => rep.steps.find((x) => x.stage === s.stage && x.index === s.index));
    const ran = runs.filter((x) => x !== undefined);
    const missed = ran.filter((x) => x.cache === 'miss');
    expect([s.step, s.builds, s.hits, s.misses]).toEqual([
      s.step,
      ran.length,
      ran.length - missed.length,
      missed.length,
    ]);
    expect(s.missCostMs).toBe(missed.reduce((t, x) => t + x.durationMs, 0));
    // The reasons are the reports' reasons, counted.
    const tally = new Map<string, number>();
    for (const x of missed) tally.set(x.reason ?? '', (tally.get(x.reason ?? '') ?? 0) + 1);
    expect(Object.fromEntries(s.reasons.map((x) => [x.reason, x.count]))).toEqual(Object.fromEntries(tally));
    // Every miss has one first cause.
    expect(s.causes.reduce((t, x) => t + x.count, 0)).toBe(s.misses);
  }
  // First causes: each report's misses, a "parent step missed" counted with the cause of the miss above it.
  const expected = new Map<string, number>();
  for (const rep of reports) {
    let above: string | undefined;
    for (const x of rep.steps) {
      if (x.cache !== 'miss') continue;
      const own = ownCause(x.reason ?? '');
      above = own?.label ?? above;
      const id = `${x.stage}/${x.index}|${above}`;
      expected.set(id, (expected.get(id) ?? 0) + 1);
    }
  }
  const got = new Map<string, number>();
  for (const s of r.steps) for (const c of s.causes) got.set(`${s.step}|${c.label}`, c.count);
  expect(Object.fromEntries(got)).toEqual(Object.fromEntries(expected));
  // The causes this series made, by name: the install misses on the lockfile and the base, not on "parent".
  const install = r.steps.find((s) => s.instruction.startsWith('RUN sleep 0.2'));
  expect(install?.causes.map((c) => c.label).sort()).toEqual(
    ['package-lock.json', 'the base image digest', 'the first build'].sort(),
  );
  const last = r.steps.find((s) => s.instruction.startsWith('RUN sleep 0.1'));
  expect(last?.causes.map((c) => c.label)).toEqual(
    expect.arrayContaining(['source edits under src/', 'build arg VERSION', 'package-lock.json']),
  );

  // The markdown form for a job summary: the table, the top causes, the time lost.
  const md = (await tsbuildOk(['cache', 'report', '--format', 'markdown', '--root', c])).stdout;
  expect(md).toContain('| step | builds | hit rate |');
  expect(md).toContain('**Top causes**');
  // A fresh machine reads the same history straight from the cache, without a build of its own.
  const fresh = await store();
  const remote = await tsbuildOk([
    'cache',
    'report',
    '--format',
    'json',
    '--insecure-registry',
    registry.host,
    '--cache-from',
    `type=registry,ref=${cache}`,
    '--root',
    fresh,
  ]);
  expect((JSON.parse(remote.stdout) as { reports: DockerfileReport[] }).reports[0]?.builds).toBe(20);
});

test('the history a cache carries stays bounded however often it is re-exported', async () => {
  const ctx = await temps.make('bound-ctx');
  await writeTree(ctx, { Dockerfile: `FROM ${registry.host}/busybox:latest\nCOPY a /a\n`, a: 'a\n' });
  const root = path.join(await temps.make('bound-store'), 'store');
  const dir = path.join(await temps.make('bound-cache'), 'cache');
  const carried = async (): Promise<number> => {
    const index = JSON.parse(await fsp.readFile(path.join(dir, 'index.json'), 'utf8')) as {
      manifests: { digest: string }[];
    };
    const blob = (d: string): string => path.join(dir, 'blobs', 'sha256', d.slice(7));
    const manifest = JSON.parse(await fsp.readFile(blob(index.manifests[0].digest), 'utf8')) as {
      config: { digest: string };
    };
    const config = JSON.parse(await fsp.readFile(blob(manifest.config.digest), 'utf8')) as {
      builds?: unknown[];
    };
    return config.builds?.length ?? 0;
  };
  const counts: number[] = [];
  for (let i = 0; i < MAX_CARRIED_BUILDS + 5; i++) {
    await tsbuildOk([
      '-q',
      '--insecure-registry',
      registry.host,
      '--cache-from',
      `type=local,src=${dir}`,
      '--cache-to',
      `type=local,dest=${dir}`,
      '--root',
      // Every fifth build in a fresh store: what it carries comes back from the cache.
      i % 5 === 0 ? path.join(await temps.make('bound-fresh'), 'store') : root,
      ctx,
    ]);
    counts.push(await carried());
  }
  expect(counts.slice(0, 3)).toEqual([1, 2, 3]);
  expect(Math.max(...counts)).toBe(MAX_CARRIED_BUILDS);
  expect(counts[counts.length - 1]).toBe(MAX_CARRIED_BUILDS);
});

test('advice with its cost: check and the report name the rule and the misses the history shows it caused', async () => {
  const ctx = await temps.make('advice-ctx');
  await writeTree(ctx, {
    Dockerfile: [
      `FROM ${registry.host}/busybox:latest`,
      'WORKDIR /app',
      'COPY . .',
      'RUN sleep 0.2; npm ci || true',
      '',
    ].join('\n'),
    'package.json': '{"name":"app"}\n',
    'src/a.js': 'a 1\n',
  });
  const root = path.join(await temps.make('advice-store'), 'store');
  const build = (): Promise<unknown> =>
    tsbuildOk(['-q', '--insecure-registry', registry.host, '--root', root, ctx]);
  await build();
  for (const v of [2, 3, 4]) {
    await fsp.writeFile(path.join(ctx, 'src/a.js'), `a ${v}\n`);
    await build();
  }
  const check = await tsbuildOk(['check', ctx, '--root', root]);
  expect(check.stdout).toMatch(/^Dockerfile:4: CopyAllBeforeInstall: /m);
  // Three source edits, three misses of the install from them (the first build's miss is not the rule's).
  expect(check.stdout).toMatch(/history: 3 misses from it in the last 4 builds, \S+ lost/);
  const md = (await tsbuildOk(['cache', 'report', ctx, '--format', 'markdown', '--root', root])).stdout;
  expect(md).toContain('**Advice**');
  expect(md).toMatch(/- line 4, `CopyAllBeforeInstall`: .*\(the history shows 3 misses there, /);
  // Without the Dockerfile (read on another machine), the numbers stand alone.
  const elsewhere = await temps.make('elsewhere');
  const bare = (await tsbuildOk(['cache', 'report', elsewhere, '--format', 'markdown', '--root', root]))
    .stdout;
  expect(bare).not.toContain('**Advice**');
  expect(bare).toContain('source edits under src/');
});
