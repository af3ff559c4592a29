/**
 * `cache explain` logic on real builds: the first cause of a run of misses is named, with the cascade under it —
 * one stage, several stages (COPY --from), a line inserted, a record pruned — and the same from two report files.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BlobStore } from '../../src/store/blob-store';
import { loadBuildHistory, loadPreviousBuildHistory, type BuildHistory } from '../../src/cache/build-history';
import { isDigest } from '../../src/store/digest';
import { KeyIndex } from '../../src/cache/key-index';
import type { FileInput } from '../../src/cache/step-key';
import { ReportCollector, type BuildReport } from '../../src/report/build-report';
import {
  explainHistories,
  explainReports,
  renderExplanation,
  type Explanation,
  type HistoryContext,
} from '../../src/report/explain-report';
import { runBuild, tempDir, writeFiles, type BuildRun } from '../helpers/build';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => fsp.rm(d, { recursive: true, force: true })));
});

async function setup(files: Record<string, string>): Promise<{ ctx: string; root: string }> {
  const ctx = await tempDir('explain-ctx');
  const root = await tempDir('explain-store');
  dirs.push(ctx, root);
  await writeFiles(ctx, files);
  return { ctx, root };
}

function storeContext(root: string): HistoryContext {
  const blobs = new BlobStore(root);
  const index = new KeyIndex(root);
  return {
    files: async (d) =>
      isDigest(d) ? (JSON.parse((await blobs.readAll(d)).toString('utf8')) as FileInput[]) : undefined,
    recordCreatedAt: async (k) => (isDigest(k) ? (await index.get(k))?.createdAt : undefined),
  };
}

async function explainLastTwo(ctx: string, root: string, target: string): Promise<Explanation> {
  const dockerfile = path.join(ctx, 'Dockerfile');
  const newer = (await loadBuildHistory(root, dockerfile, target)) as BuildHistory;
  const older = (await loadPreviousBuildHistory(root, dockerfile, target)) as BuildHistory;
  expect(newer).toBeDefined();
  expect(older).toBeDefined();
  return explainHistories(older, newer, storeContext(root));
}

function reportOf(run: BuildRun): BuildReport {
  const c = new ReportCollector();
  for (const e of run.events) c.sink(e);
  return c.build(
    { name: null, manifestDigest: run.image.manifestDigest, configDigest: run.image.configDigest },
    1,
  );
}

const CLASSIC = `FROM scratch
WORKDIR /app
COPY package.json ./
COPY src/ ./src/
ENV NODE_ENV=production
CMD ["node", "src/server.js"]
`;

const FILES = { Dockerfile: CLASSIC, 'package.json': '{}', 'src/server.js': '1' };

describe('explain from the last two builds', () => {
  test('one changed file: that COPY is the one cause; the steps after it are its consequences', async () => {
    const { ctx, root } = await setup(FILES);
    await runBuild(ctx, root);
    await fsp.writeFile(path.join(ctx, 'src', 'server.js'), '2');
    await runBuild(ctx, root);

    const e = await explainLastTwo(ctx, root, 'stage-0');
    expect(e.missed).toBe(3);
    expect(e.causes).toHaveLength(1);
    const [cause] = e.causes;
    expect(cause?.step).toMatchObject({
      instruction: 'COPY src/ ./src/',
      reason: '1 file changed: src/server.js (content)',
    });
    expect(cause?.step.label).toBe('4/6');
    expect(cause?.consequences.map((s) => [s.instruction, s.reason])).toEqual([
      ['ENV NODE_ENV=production', 'parent step missed'],
      ['CMD ["node", "src/server.js"]', 'parent step missed'],
    ]);
    const text = renderExplanation(e);
    expect(text).toContain('3 of 6 steps missed; the first cause:');
    expect(text).toContain('[4/6] COPY src/ ./src/\n    1 file changed: src/server.js (content)');
    expect(text).toContain('then 2 steps missed because of it:');
  });

  test('nothing changed: every step hit', async () => {
    const { ctx, root } = await setup(FILES);
    await runBuild(ctx, root);
    await runBuild(ctx, root);
    const e = await explainLastTwo(ctx, root, 'stage-0');
    expect(e.missed).toBe(0);
    expect(renderExplanation(e)).toContain('every one of its 6 steps hit the cache');
  });

  test('a line inserted: the new step is the cause, not every step below it', async () => {
    const { ctx, root } = await setup(FILES);
    await runBuild(ctx, root);
    await writeFiles(ctx, {
      Dockerfile: CLASSIC.replace('COPY src/', 'COPY package.json /pkg.json\nCOPY src/'),
    });
    await runBuild(ctx, root);
    const e = await explainLastTwo(ctx, root, 'stage-0');
    expect(e.causes.map((c) => [c.step.instruction, c.step.reason])).toEqual([
      ['COPY package.json /pkg.json', 'a new step: the previous build did not have it'],
    ]);
    expect(e.causes[0]?.consequences.map((s) => s.instruction)).toEqual([
      'COPY src/ ./src/',
      'ENV NODE_ENV=production',
      'CMD ["node", "src/server.js"]',
    ]);
  });

  test('a metadata line inserted (ENV): it is the only miss, the filesystem steps below it hit', async () => {
    const { ctx, root } = await setup(FILES);
    await runBuild(ctx, root);
    await writeFiles(ctx, { Dockerfile: CLASSIC.replace('COPY src/', 'ENV DEBUG=1\nCOPY src/') });
    await runBuild(ctx, root);
    const e = await explainLastTwo(ctx, root, 'stage-0');
    expect(e.missed).toBe(1);
    expect(e.causes.map((c) => [c.step.instruction, c.step.reason, c.consequences.length])).toEqual([
      ['ENV DEBUG=1', 'a new step: the previous build did not have it', 0],
    ]);
  });

  test('several stages: a change in the build stage explains the COPY --from in the final one', async () => {
    const { ctx, root } = await setup({
      Dockerfile: [
        'FROM scratch AS deps',
        'COPY package.json /deps/',
        '',
        'FROM scratch AS build',
        'COPY src/ /src/',
        'ENV STAGE=build',
        '',
        'FROM scratch',
        'COPY --from=deps /deps/ /app/',
        'COPY --from=build /src/ /app/src/',
        'CMD ["run"]',
        '',
      ].join('\n'),
      'package.json': '{}',
      'src/main.js': 'v1',
    });
    await runBuild(ctx, root);
    await fsp.writeFile(path.join(ctx, 'src', 'main.js'), 'v2');
    await runBuild(ctx, root);
    const e = await explainLastTwo(ctx, root, 'stage-2');
    expect(e.causes).toHaveLength(1);
    expect(e.causes[0]?.step).toMatchObject({
      instruction: 'COPY src/ /src/',
      reason: '1 file changed: src/main.js (content)',
    });
    expect(e.causes[0]?.consequences.map((s) => [s.instruction, s.reason])).toEqual([
      ['ENV STAGE=build', 'parent step missed'],
      ['COPY --from=build /src/ /app/src/', 'stage stage-1 changed'],
      ['CMD ["run"]', 'parent step missed'],
    ]);
  });

  test('same inputs but the record was pruned: said so', async () => {
    const { ctx, root } = await setup(FILES);
    await runBuild(ctx, root);
    const index = new KeyIndex(root);
    const history = (await loadBuildHistory(root, path.join(ctx, 'Dockerfile'), 'stage-0')) as BuildHistory;
    const envStep = history.steps.find((s) =>
      (s.inputs as { op: { instruction: string } }).op.instruction.startsWith('ENV'),
    );
    await fsp.rm(index.recordPath(envStep?.key as `sha256:${string}`));
    await new Promise((r) => setTimeout(r, 5));
    await runBuild(ctx, root);
    const e = await explainLastTwo(ctx, root, 'stage-0');
    expect(e.causes.map((c) => [c.step.instruction, c.step.reason])).toEqual([
      ['ENV NODE_ENV=production', 'inputs unchanged, but the cache record is gone (pruned or never stored)'],
    ]);
    expect(e.missed).toBe(1); // CMD's key did not change and its record was there: it hit
  });
});

describe('explain from two report files', () => {
  test('several stages: the COPY --from of a changed stage is a consequence, and the build log says why', async () => {
    const { ctx, root } = await setup({
      Dockerfile:
        'FROM scratch AS build\nCOPY a.txt /\n\nFROM scratch\nCOPY --from=build /a.txt /b.txt\nCMD ["x"]\n',
      'a.txt': '1',
    });
    const a = reportOf(await runBuild(ctx, root));
    await fsp.writeFile(path.join(ctx, 'a.txt'), '2');
    const run = await runBuild(ctx, root);
    const copyFrom = run.steps.find((s) => s[0] === 'COPY --from=build /a.txt /b.txt');
    expect(copyFrom?.[2]).toMatch(/^the --from source changed: sha256:[0-9a-f]{12} → sha256:[0-9a-f]{12}$/);
    const e = explainReports(a, reportOf(run));
    expect(e.causes.map((c) => c.step.instruction)).toEqual(['COPY a.txt /']);
    expect(e.causes[0]?.consequences.map((s) => s.label)).toEqual(['stage-1 2/3', 'stage-1 3/3']);
  });

  test('the first cause, its cascade listed under it', async () => {
    const { ctx, root } = await setup(FILES);
    const a = reportOf(await runBuild(ctx, root));
    await runBuild(ctx, root);
    const hitAll = reportOf(await runBuild(ctx, root));
    await fsp.writeFile(path.join(ctx, 'package.json'), '{"v":2}');
    const b = reportOf(await runBuild(ctx, root));

    const e = explainReports(hitAll, b, ['a.json', 'b.json']);
    expect(e.subject).toBe('b.json compared with a.json');
    expect(e.causes.map((c) => [c.step.label, c.step.instruction, c.step.reason])).toEqual([
      ['3/6', 'COPY package.json ./', '1 file changed: package.json (content)'],
    ]);
    expect(e.causes[0]?.consequences).toHaveLength(3);
    // Compared with the very first build (which missed everything), the misses are marked as not new.
    expect(explainReports(a, b).causes[0]?.step.reason).toContain('(it missed before too)');
  });
});
