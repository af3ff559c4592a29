/**
 * Images built on images: FROM an image in the local store, `--target`, and multi-stage `COPY --from`,
 * through the real CLI and checked with skopeo and umoci.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import {
  expectNoStackTrace,
  listTree,
  readReport,
  requireE2e,
  TempDirs,
  toolJson,
  tsbuild,
  tsbuildOk,
  unpack,
  writeTree,
  type Report,
} from '../helpers/e2e';

const temps = new TempDirs();
beforeAll(() => requireE2e('skopeo', 'umoci'));
afterAll(() => temps.cleanup());

/** A store holding `base:1`: one layer with /base/base.txt. */
async function storeWithBase(dir: string): Promise<{ root: string; base: Report }> {
  const root = path.join(dir, 'store');
  const ctx = path.join(dir, 'base');
  await writeTree(ctx, {
    Dockerfile: 'FROM scratch\nCOPY base.txt /base/\nENV BASE=1\n',
    'base.txt': 'base\n',
  });
  const reportFile = path.join(dir, 'base-report.json');
  await tsbuildOk(['-t', 'base:1', '--root', root, '--report', reportFile, ctx]);
  return { root, base: await readReport(reportFile) };
}

describe('stages and local base images', () => {
  test('FROM an image in the local store builds on its layers; the second build is all hits', async () => {
    const dir = await temps.make('from-local');
    const { root, base } = await storeWithBase(dir);
    const ctx = path.join(dir, 'app');
    await writeTree(ctx, { Dockerfile: 'FROM base:1\nCOPY app.txt /app/\n', 'app.txt': 'app\n' });

    const builds: Report[] = [];
    for (const n of [1, 2]) {
      const reportFile = path.join(dir, `app-report-${n}.json`);
      const layout = path.join(dir, `layout-${n}`);
      const run = await tsbuildOk([
        '-t',
        'app:1',
        '--progress',
        'plain',
        '--root',
        root,
        '--report',
        reportFile,
        '-o',
        `type=oci,dest=${layout}`,
        ctx,
      ]);
      const report = await readReport(reportFile);
      builds.push(report);
      expect(report.steps.map((s) => s.instruction)).toEqual(['FROM base:1', 'COPY app.txt /app/']);

      const inspect = await toolJson<{ Layers: string[]; Env: string[] }>('skopeo', [
        'inspect',
        `oci:${layout}:1`,
      ]);
      // The report's layers, compressed for the layout: the same ones by diff_id.
      const config = await toolJson<{ rootfs: { diff_ids: string[] } }>('skopeo', [
        'inspect',
        '--config',
        `oci:${layout}:1`,
      ]);
      expect(config.rootfs.diff_ids).toEqual([base.steps[1].layer?.diffId, report.steps[1].layer?.diffId]);
      expect(inspect.Layers).toHaveLength(2);
      expect(inspect.Env).toContain('BASE=1');
      const rootfs = await unpack(layout, '1', path.join(dir, `bundle-${n}`));
      expect(await listTree(rootfs)).toEqual(['app', 'app/app.txt', 'base', 'base/base.txt']);
      if (n === 2) {
        expect(report.steps.map((s) => s.cache)).toEqual(['hit', 'hit']);
        expect(run.stderr).toMatch(/^2\/2 steps cached \(100%\)/m);
      } else {
        expect(report.steps[1]).toMatchObject({ cache: 'miss' });
      }
    }
    expect(builds[1].image).toEqual(builds[0].image);

    // Rebuilding base:1 with other content: the step on top of it misses, and says why.
    await fsp.writeFile(path.join(dir, 'base', 'base.txt'), 'base, version 2\n');
    const rebased = await tsbuildOk(['-t', 'base:1', '--root', root, '-q', path.join(dir, 'base')]);
    expect(rebased.stdout.trim()).not.toBe(base.image.configDigest);
    const reportFile = path.join(dir, 'app-report-3.json');
    await tsbuildOk(['-t', 'app:1', '--root', root, '--report', reportFile, ctx]);
    const third = await readReport(reportFile);
    expect(third.steps[1]).toMatchObject({
      cache: 'miss',
      reason: expect.stringContaining('base image base:1 changed'),
    });
  });

  const MULTI = `FROM scratch AS broken
COPY does-not-exist.txt /

FROM scratch AS build
COPY src/ /out/

FROM base:1 AS final
COPY --from=build /out/ /app/
COPY --from=build /out/main.txt /main-copy.txt
`;

  test('--target builds only what it needs; an unused broken stage does not fail the build; COPY --from', async () => {
    const dir = await temps.make('multi');
    const { root } = await storeWithBase(dir);
    const ctx = path.join(dir, 'ctx');
    await writeTree(ctx, { Dockerfile: MULTI, 'src/main.txt': 'main\n', 'src/lib/x.txt': 'x\n' });

    // --target build: only that stage.
    const targetReport = path.join(dir, 'target.json');
    await tsbuildOk([
      '-t',
      'multi:build',
      '--target',
      'build',
      '--root',
      root,
      '--report',
      targetReport,
      ctx,
    ]);
    const target = await readReport(targetReport);
    expect(target.steps.map((s) => [s.stage, s.instruction])).toEqual([
      ['build', 'FROM scratch'],
      ['build', 'COPY src/ /out/'],
    ]);

    // No target: the last stage, and the stage it copies from — never the broken one.
    const fullReport = path.join(dir, 'full.json');
    const layout = path.join(dir, 'layout');
    await tsbuildOk([
      '-t',
      'multi:final',
      '--progress',
      'plain',
      '--root',
      root,
      '--report',
      fullReport,
      '-o',
      `type=oci,dest=${layout}`,
      ctx,
    ]);
    const full = await readReport(fullReport);
    expect(full.steps.map((s) => [s.stage, s.instruction, s.cache])).toEqual([
      ['build', 'FROM scratch', 'hit'],
      ['build', 'COPY src/ /out/', 'hit'], // built by the --target run
      ['final', 'FROM base:1', expect.any(String)],
      ['final', 'COPY --from=build /out/ /app/', 'miss'],
      ['final', 'COPY --from=build /out/main.txt /main-copy.txt', 'miss'],
    ]);
    const rootfs = await unpack(layout, 'final', path.join(dir, 'bundle'));
    expect(await listTree(rootfs)).toEqual([
      'app',
      'app/lib',
      'app/lib/x.txt',
      'app/main.txt',
      'base',
      'base/base.txt',
      'main-copy.txt',
    ]);
    expect(await fsp.readFile(path.join(rootfs, 'main-copy.txt'), 'utf8')).toBe('main\n');

    // Asking for the broken stage does fail, on its line.
    const broken = await tsbuild(['--target', 'broken', '--root', root, ctx]);
    expectNoStackTrace(broken);
    expect(broken.status).toBe(1);
    expect(broken.stderr).toMatch(/^Dockerfile:2: COPY failed: /m);
  });
});
