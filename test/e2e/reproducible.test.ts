/**
 * SOURCE_DATE_EPOCH makes builds reproducible: the same input built in two fresh stores gives the same image
 * id (`-q`, `--iidfile`) and the same manifest digest (`--report`).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { readReport, requireE2e, TempDirs, tsbuildOk, writeTree } from '../helpers/e2e';

const temps = new TempDirs();
beforeAll(() => requireE2e());
afterAll(() => temps.cleanup());

describe('reproducible builds', () => {
  test('two stores, one input, SOURCE_DATE_EPOCH=1700000000: identical image ids and manifest digests', async () => {
    const dir = await temps.make('repro');
    const ctx = path.join(dir, 'ctx');
    await writeTree(ctx, {
      Dockerfile: [
        'FROM scratch',
        'WORKDIR /app',
        'COPY package.json ./',
        'COPY . .',
        'ENV NODE_ENV=production',
        'LABEL org.example.kind=repro',
        'CMD ["node", "server.js"]',
        '',
      ].join('\n'),
      'package.json': '{"name":"app"}\n',
      'server.js': 'console.log(1);\n',
      'lib/a.js': 'a\n',
      'empty/': '',
    });
    // The second build reads a fresh copy of the context, written later: file times are not inputs.
    const copy = path.join(dir, 'ctx-copy');
    await fsp.cp(ctx, copy, { recursive: true });
    const later = new Date(Date.now() + 86_400_000);
    for (const f of ['package.json', 'server.js', 'lib/a.js'])
      await fsp.utimes(path.join(copy, f), later, later);
    const builds = [];
    for (const n of [1, 2]) {
      // Builds a second apart must still agree: the wall clock is not an input either.
      if (n === 2) await new Promise((r) => setTimeout(r, 1100));
      const iidfile = path.join(dir, `iid-${n}`);
      const reportFile = path.join(dir, `report-${n}.json`);
      const run = await tsbuildOk(
        [
          '-q',
          '-t',
          'repro:1',
          '--root',
          path.join(dir, `store-${n}`),
          '--iidfile',
          iidfile,
          '--report',
          reportFile,
          n === 1 ? ctx : copy,
        ],
        { env: { SOURCE_DATE_EPOCH: '1700000000' } },
      );
      // -q prints the image id (the config digest) and nothing else.
      expect(run.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
      const id = run.stdout.trim();
      expect((await fsp.readFile(iidfile, 'utf8')).trim()).toBe(id);
      const report = await readReport(reportFile);
      expect(report.image.configDigest).toBe(id);
      expect(report.steps.slice(1).every((s) => s.cache === 'miss')).toBe(true);
      builds.push({ id, manifest: report.image.manifestDigest, layers: report.steps.map((s) => s.layer) });
    }
    expect(builds[1]).toEqual(builds[0]);
  });
});
