/**
 * The markdown report: from real builds (the table names the changed file and the changed build arg, and the time
 * saved comes from the cache records), and its escaping, which must survive any instruction text.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { loadStepCosts } from '../../src/cache/step-costs';
import { ReportCollector, type BuildReport } from '../../src/report/build-report';
import { code, renderMarkdownReport, stepId, text } from '../../src/report/markdown-report';
import { runBuild, tempDir, writeFiles, type BuildRun } from '../helpers/build';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => fsp.rm(d, { recursive: true, force: true })));
});

function reportOf(run: BuildRun, name: string | null = 'docker.io/library/app:latest'): BuildReport {
  const collector = new ReportCollector();
  for (const e of run.events) collector.sink(e);
  return collector.build(
    { name, manifestDigest: run.image.manifestDigest, configDigest: run.image.configDigest },
    run.image.durationMs,
  );
}

/** The cells of the `### Steps` table row whose instruction cell is exactly `instruction` in a code span. */
function stepRow(markdown: string, instruction: string): string[] {
  const section = markdown.slice(markdown.indexOf('### Steps'));
  const line = section.split('\n').find((l) => l.includes(`| \`${instruction}\` |`));
  if (!line) throw new Error(`no row for ${instruction} in\n${markdown}`);
  return line
    .slice(2, -2)
    .split(/(?<!\\) \| /)
    .map((c) => c.trim());
}

describe('markdown report of real builds', () => {
  test('names the changed file and the changed build arg, and what the cache saved', async () => {
    const ctx = await tempDir('md-ctx');
    const root = await tempDir('md-store');
    dirs.push(ctx, root);
    await writeFiles(ctx, {
      Dockerfile: 'FROM scratch\nARG VERSION=1\nCOPY package.json /app/\nCOPY src/ /app/src/\nCMD ["node"]\n',
      'package.json': '{}\n',
      'src/server.js': 'one\n',
      'src/util.js': 'util\n',
    });
    await runBuild(ctx, root, { buildArgs: new Map([['VERSION', '1']]) });

    // Only the source changes: ARG and the first COPY hit, COPY src/ misses naming the file.
    await fsp.writeFile(path.join(ctx, 'src', 'server.js'), 'two\n');
    const second = await runBuild(ctx, root, { buildArgs: new Map([['VERSION', '1']]) });
    const report = reportOf(second);
    const costs = await loadStepCosts(root, report, path.join(ctx, 'Dockerfile'));
    const md = renderMarkdownReport(report, costs);

    expect(md).toContain('## tsbuild: `docker.io/library/app:latest`');
    const hits = report.steps.filter((s) => s.cache === 'hit').length;
    expect(md).toContain(
      `**${hits} of ${report.steps.length} steps cached (${Math.round((hits / report.steps.length) * 100)}%)**`,
    );
    expect(stepRow(md, 'COPY src/ /app/src/')).toEqual([
      'stage-0',
      '4',
      '`COPY src/ /app/src/`',
      '**miss**',
      '1 file changed: src/server.js (content)',
      expect.stringMatching(/^\d+ ms$/),
    ]);
    expect(stepRow(md, 'CMD ["node"]')[4]).toBe('parent step missed');
    // Hits say what they saved: the time their record took to build.
    const copyHit = report.steps.find((s) => s.instruction === 'COPY package.json /app/');
    expect(costs.built.has(stepId(copyHit as BuildReport['steps'][number]))).toBe(true);
    expect(md).toMatch(/the cache saved about \d+ ms/);
    // The misses, slowest first, with what they cost the last time they were built.
    const misses = md.slice(md.indexOf('### Misses, slowest first'), md.indexOf('### Steps'));
    expect(misses).toContain('| `COPY src/ /app/src/` (stage-0 #4, line 4) |');
    expect(costs.previous.get('stage-0/4')).toEqual(expect.any(Number));

    // Now the build arg changes: the ARG step names it.
    const third = await runBuild(ctx, root, { buildArgs: new Map([['VERSION', '2']]) });
    const md3 = renderMarkdownReport(
      reportOf(third),
      await loadStepCosts(root, reportOf(third), path.join(ctx, 'Dockerfile')),
    );
    expect(stepRow(md3, 'ARG VERSION=1')).toEqual([
      'stage-0',
      '2',
      '`ARG VERSION=1`',
      '**miss**',
      'build arg VERSION changed 1 → 2',
      expect.stringMatching(/ms$/),
    ]);
  });

  test('a history from another Dockerfile gives no costs rather than wrong ones', async () => {
    const ctx = await tempDir('md-ctx');
    const root = await tempDir('md-store');
    dirs.push(ctx, root);
    await writeFiles(ctx, { Dockerfile: 'FROM scratch\nCOPY a /\n', a: 'a' });
    const run = await runBuild(ctx, root);
    const costs = await loadStepCosts(root, reportOf(run), path.join(ctx, 'Other.Dockerfile'));
    expect(costs.built.size + costs.previous.size).toBe(0);
  });
});

describe('markdown escaping', () => {
  const step = (over: Partial<BuildReport['steps'][number]>): BuildReport['steps'][number] => ({
    stage: 'app',
    index: 2,
    line: 2,
    instruction: 'COPY . .',
    cache: 'miss',
    reason: null,
    durationMs: 10,
    layer: null,
    ...over,
  });

  test('pipes, emphasis characters, HTML and backticks cannot break the table', () => {
    const report: BuildReport = {
      version: 1,
      image: {
        name: null,
        manifestDigest: 'sha256:' + '1'.repeat(64),
        configDigest: 'sha256:' + 'ab'.repeat(32),
      },
      steps: [
        step({ index: 1, instruction: 'FROM scratch', cache: 'hit', durationMs: 0 }),
        step({
          instruction: 'LABEL x="a|b" y=`z`',
          reason: 'instruction changed: `LABEL x="a|b"` → `LABEL x="a|c"`',
          durationMs: 3000,
        }),
        step({
          index: 3,
          instruction: 'COPY __init__.py <dir>/',
          reason: '2 files changed: __init__.py (content), a|b (added)',
        }),
      ],
      summary: { steps: 3, hits: 1, misses: 2, durationMs: 3100 },
    };
    const md = renderMarkdownReport(report);
    expect(md).toContain('## tsbuild: image `abababababab`');
    expect(md).toContain('| `` LABEL x="a\\|b" y=`z` `` |');
    expect(md).toContain('instruction changed: `LABEL x="a\\|b"` → `LABEL x="a\\|c"`');
    expect(md).toContain('2 files changed: \\_\\_init\\_\\_.py (content), a\\|b (added)');
    expect(md).toContain('`COPY __init__.py <dir>/`');
    // Every table row has exactly as many unescaped cell separators as its header.
    for (const line of md.split('\n').filter((l) => l.startsWith('| '))) {
      const cells = line.split(/(?<!\\)\|/).length - 2;
      expect([4, 6]).toContain(cells);
    }
    // The slowest miss comes first.
    const misses = md.slice(md.indexOf('### Misses'), md.indexOf('### Steps'));
    expect(misses.indexOf('LABEL')).toBeLessThan(misses.indexOf('COPY'));
    expect(md).toContain('**1 of 3 steps cached (33%)**');
  });

  test('code spans pick a fence longer than any backtick run inside', () => {
    expect(code('plain')).toBe('`plain`');
    expect(code('a `b` c')).toBe('``a `b` c``');
    expect(code('`x`')).toBe('`` `x` ``');
    expect(code('a ``b`` c')).toBe('```a ``b`` c```');
    expect(text('*bold* [link](x) <b> & #1')).toBe('\\*bold\\* \\[link\\](x) &lt;b&gt; &amp; \\#1');
    expect(text('keep `a*b` as code')).toBe('keep `a*b` as code');
    expect(text('unclosed `tick')).toBe('unclosed \\`tick');
  });
});
