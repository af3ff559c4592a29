/**
 * `tsbuild check` through the compiled CLI (text and JSON, a Dockerfile given alone, no findings, `# check=skip=`,
 * `check=error=true` exiting 1, a bad Dockerfile or directive exiting 2 in one line), the same findings as warnings
 * of a real build (once per build, a no-op rebuild included; error=true failing the build before any step), and the
 * annotator seam the cache history plugs into.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Finding, FindingAnnotator } from '../../src/advice';
import { checkText } from '../../src/cli/check-output';
import { runCheck } from '../../src/cli/check-run';
import { expectNoStackTrace, readReport, requireE2e, TempDirs, tsbuild, writeTree } from '../helpers/e2e';
import { busyboxLayout } from '../helpers/registry';

jest.setTimeout(180_000);

const temps = new TempDirs();
beforeAll(() => requireE2e('umoci'));
afterAll(() => temps.cleanup());

const FLAGGED = [
  'FROM node:20',
  'WORKDIR /app',
  'COPY . .',
  'RUN apt-get update',
  'RUN apt-get install -y git',
  'RUN npm ci',
  '',
].join('\n');

async function contextWith(files: Record<string, string>): Promise<string> {
  const dir = await temps.make('check');
  await writeTree(dir, files);
  return dir;
}

describe('tsbuild check', () => {
  test('prints each finding as Dockerfile:LINE: Rule: message with its why, and exits 0', async () => {
    const ctx = await contextWith({ Dockerfile: FLAGGED, '.git/HEAD': 'ref: refs/heads/main\n' });
    const run = await tsbuild(['check', ctx]);
    expectNoStackTrace(run);
    expect(run.status).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines.filter((l) => /^Dockerfile:\d+: /.test(l))).toEqual([
      'Dockerfile:3: ContextWithoutDockerignore: COPY . . copies the whole context, which holds .git, and there is ' +
        'no .dockerignore: add .git/ to .dockerignore',
      'Dockerfile:4: AptUpdateSeparate: apt-get update runs alone in this RUN and apt-get install comes in a later ' +
        'one (line 5): run them in one RUN (apt-get update && apt-get install -y …)',
      'Dockerfile:6: CopyAllBeforeInstall: npm ci installs dependencies after COPY . . (line 3): copy the manifests ' +
        '(package.json, package-lock.json) first, then install, then COPY . .',
    ]);
    expect(lines.filter((l) => l.startsWith('    why: '))).toHaveLength(3);
    expect(run.stdout).toContain('3 findings (3 rules)');
  });

  test('a Dockerfile given alone, -f, and --format json with each finding’s place', async () => {
    const ctx = await contextWith({ 'app.Dockerfile': FLAGGED });
    const alone = await tsbuild(['check', path.join(ctx, 'app.Dockerfile'), '--format', 'json']);
    expect(alone.status).toBe(0);
    const doc: unknown = JSON.parse(alone.stdout);
    expect(doc).toEqual({
      file: path.join(ctx, 'app.Dockerfile'),
      findings: [
        expect.objectContaining({
          rule: 'AptUpdateSeparate',
          line: 4,
          stage: 'stage-0',
          stageIndex: 0,
          stepIndex: 4,
        }),
        expect.objectContaining({
          rule: 'CopyAllBeforeInstall',
          line: 6,
          stage: 'stage-0',
          stageIndex: 0,
          stepIndex: 6,
        }),
      ],
    });
    const withF = await tsbuild(['check', '-f', path.join(ctx, 'app.Dockerfile'), ctx]);
    expect(withF.status).toBe(0);
    expect(withF.stdout).toContain(': CopyAllBeforeInstall: ');
  });

  test('says "no findings" for a Dockerfile with none, and for one whose rules # check=skip=all turns off', async () => {
    const clean = await contextWith({
      Dockerfile:
        'FROM node:20\nCOPY package.json package-lock.json ./\nRUN npm ci\nCOPY . .\nRUN npm test\n',
    });
    const run = await tsbuild(['check', clean]);
    expect([run.status, run.stdout]).toEqual([0, 'Dockerfile: no findings\n']);

    const skipped = await contextWith({ Dockerfile: `# check=skip=all\n${FLAGGED}` });
    expect((await tsbuild(['check', skipped])).stdout).toBe('Dockerfile: no findings\n');
  });

  test('# check=skip=Rule turns off that rule only', async () => {
    const ctx = await contextWith({ Dockerfile: `# check=skip=AptUpdateSeparate\n${FLAGGED}` });
    const run = await tsbuild(['check', ctx]);
    expect(run.stdout).not.toContain('AptUpdateSeparate');
    expect(run.stdout).toContain('Dockerfile:7: CopyAllBeforeInstall: ');
  });

  test('# check=error=true: the findings, then BuildKit’s error, exit 1', async () => {
    const ctx = await contextWith({ Dockerfile: `# check=error=true\n${FLAGGED}` });
    const run = await tsbuild(['check', ctx]);
    expectNoStackTrace(run);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain('Dockerfile:5: AptUpdateSeparate: ');
    expect(run.stderr).toBe('lint violation found for rules: AptUpdateSeparate, CopyAllBeforeInstall\n');
    // No findings, no error.
    const clean = await contextWith({
      Dockerfile: '# check=error=true\nFROM scratch\nCOPY --link a /a\n',
      a: '',
    });
    expect((await tsbuild(['check', clean])).status).toBe(0);
  });

  test('a bad Dockerfile or check directive is the usual one-line error, exit 2', async () => {
    const bad = await contextWith({ Dockerfile: 'FROM alpine\nCOPY onlyone\n' });
    const run = await tsbuild(['check', bad]);
    expectNoStackTrace(run);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^Dockerfile:2: COPY requires at least two arguments/);

    const directive = await contextWith({ Dockerfile: '# check=skip\nFROM alpine\n' });
    const r2 = await tsbuild(['check', directive]);
    expect([r2.status, r2.stderr.split('\n')[0]]).toEqual([
      2,
      'Dockerfile:1: failed to parse check options: invalid check option "skip"',
    ]);
    const missing = await tsbuild(['check', path.join(bad, 'nope')]);
    expect(missing.status).toBe(2);
  });
});

describe('the same findings at build time', () => {
  let layout: string;
  beforeAll(async () => {
    layout = await busyboxLayout();
  });

  const DOCKERFILE = [
    'FROM busybox',
    'ARG GIT_COMMIT',
    'RUN echo one > /one',
    'RUN echo two > /two',
    'LABEL revision=$GIT_COMMIT',
    '',
  ].join('\n');
  const WARNING =
    'WARNING: Dockerfile:2: VolatileArgBeforeSlowSteps: ARG GIT_COMMIT looks per-build and comes before 2 RUN ' +
    'steps that do not use it (lines 3 and 4): each new value re-runs them; declare it as late as possible: just ' +
    'before line 5, which uses it (why: ';

  async function buildIn(
    ctx: string,
    root: string,
    extra: string[] = [],
  ): Promise<{ status: number | null; stderr: string }> {
    const run = await tsbuild([
      ...extra,
      '--progress',
      'plain',
      '--root',
      root,
      '--build-context',
      `busybox=oci-layout://${layout}`,
      '--build-arg',
      'GIT_COMMIT=3f9c2e1',
      ctx,
    ]);
    expectNoStackTrace(run);
    return run;
  }

  test('a build warns once, after planning and before the steps; a no-op rebuild too', async () => {
    const dir = await temps.make('check-build');
    const ctx = path.join(dir, 'ctx');
    await writeTree(ctx, { Dockerfile: DOCKERFILE });
    const root = path.join(dir, 'store');
    for (let i = 0; i < 2; i++) {
      const run = await buildIn(ctx, root);
      expect(run.status).toBe(0);
      const lines = run.stderr.split('\n');
      const warnings = lines.filter((l) => l.startsWith('WARNING: '));
      expect(warnings).toHaveLength(1);
      expect(warnings[0].startsWith(WARNING)).toBe(true);
      expect(lines.indexOf(warnings[0])).toBeLessThan(lines.findIndex((l) => l.includes('RUN echo one')));
    }
  });

  test('a build that starts over (an imported cache lost a blob) still warns once', async () => {
    const dir = await temps.make('check-restart');
    const ctx = path.join(dir, 'ctx');
    await writeTree(ctx, { Dockerfile: DOCKERFILE });
    const cacheDir = path.join(dir, 'cache');
    const reportFile = path.join(dir, 'report.json');
    const first = await buildIn(ctx, path.join(dir, 'storeA'), [
      '--cache-to',
      `type=local,dest=${cacheDir}`,
      '--report',
      reportFile,
    ]);
    expect(first.status).toBe(0);
    // The last layer (RUN echo two): writing the image needs it, so its loss makes the build start over.
    const diffId = (await readReport(reportFile)).steps
      .flatMap((s) => (s.layer ? [s.layer.diffId] : []))
      .at(-1);
    let removed = false;
    for (const name of await fsp.readdir(path.join(cacheDir, 'blobs', 'sha256'))) {
      const file = path.join(cacheDir, 'blobs', 'sha256', name);
      const bytes = await fsp.readFile(file);
      if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) continue;
      if (`sha256:${createHash('sha256').update(gunzipSync(bytes)).digest('hex')}` !== diffId) continue;
      await fsp.rm(file);
      removed = true;
    }
    expect(removed).toBe(true);
    const again = await buildIn(ctx, path.join(dir, 'storeB'), [
      '--cache-from',
      `type=local,src=${cacheDir}`,
    ]);
    expect(again.status).toBe(0);
    expect(again.stderr).toContain('building again without --cache-from');
    expect(again.stderr.split('\n').filter((l) => l.startsWith(WARNING))).toHaveLength(1);
  });

  test('# check=error=true fails the build with exit 1 before any step runs', async () => {
    const dir = await temps.make('check-build-error');
    const ctx = path.join(dir, 'ctx');
    await writeTree(ctx, { Dockerfile: `# check=error=true\n${DOCKERFILE}` });
    const run = await buildIn(ctx, path.join(dir, 'store'));
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('WARNING: Dockerfile:3: VolatileArgBeforeSlowSteps: ');
    expect(run.stderr).toContain('lint violation found for rules: VolatileArgBeforeSlowSteps');
    expect(run.stderr).not.toContain('RUN echo one');
  });
});

describe('the annotator seam', () => {
  test('runCheck passes the findings and which build they are about; the text shows each note', async () => {
    const ctx = await contextWith({ Dockerfile: FLAGGED });
    const root = path.join(ctx, 'store');
    const seen: { findings: readonly Finding[]; about: Parameters<FindingAnnotator>[1] }[] = [];
    const annotate: FindingAnnotator = async (findings, about) => {
      seen.push({ findings, about });
      return findings.map((f) =>
        f.rule === 'CopyAllBeforeInstall' ? 'the history shows it cost 12 misses' : undefined,
      );
    };
    const result = await runCheck(
      {
        context: ctx,
        root,
        buildArgs: new Map(),
        stdin: () => process.stdin,
        warn: () => undefined,
      },
      annotate,
    );
    expect(seen).toHaveLength(1);
    expect(seen[0].about).toEqual({
      root,
      dockerfilePath: await fsp.realpath(path.join(ctx, 'Dockerfile')),
      target: 'stage-0',
      dockerfileName: 'Dockerfile',
      requestedTarget: '',
    });
    expect(seen[0].findings.map((f) => f.rule)).toEqual(['AptUpdateSeparate', 'CopyAllBeforeInstall']);
    expect(result.notes).toEqual([undefined, 'the history shows it cost 12 misses']);
    const text = checkText(result.fileName, result.findings, result.notes);
    expect(text).toContain(
      'first, then install, then COPY . .\n    why: the install runs on a layer holding the whole context, so every ' +
        'source edit re-runs it (and re-downloads the dependencies)\n    history: the history shows it cost 12 misses\n',
    );
    // Without an annotator, no notes and no history lines.
    const plain = await runCheck({
      context: ctx,
      root,
      buildArgs: new Map(),
      stdin: () => process.stdin,
      warn: () => undefined,
    });
    expect(plain.notes).toEqual([undefined, undefined]);
    expect(checkText(plain.fileName, plain.findings, plain.notes)).not.toContain('history:');
  });
});
