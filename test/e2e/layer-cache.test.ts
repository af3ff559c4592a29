/**
 * The classic layer-order example through the real CLI: `--progress plain` log lines and the `--report`
 * document say which steps hit, which missed and why, build after build.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import {
  readReport,
  requireE2e,
  stepLines,
  TempDirs,
  tsbuildOk,
  writeTree,
  type Report,
  type Run,
} from '../helpers/e2e';

const CLASSIC = `FROM scratch
WORKDIR /app
COPY package.json ./
COPY . .
ENV NODE_ENV=production
CMD ["node", "server.js"]
`;

const INSTRUCTIONS = [
  'FROM scratch',
  'WORKDIR /app',
  'COPY package.json ./',
  'COPY . .',
  'ENV NODE_ENV=production',
  'CMD ["node", "server.js"]',
];

const temps = new TempDirs();
beforeAll(() => requireE2e());
afterAll(() => temps.cleanup());

interface Classic {
  ctx: string;
  root: string;
  dir: string;
  /** One plain-progress build with a report; `n` numbers the report file. */
  build(n: number): Promise<{ run: Run; report: Report; lines: string[] }>;
}

async function classic(): Promise<Classic> {
  const dir = await temps.make('classic');
  const ctx = path.join(dir, 'ctx');
  const root = path.join(dir, 'store');
  await writeTree(ctx, {
    Dockerfile: CLASSIC,
    'package.json': '{"name":"app","version":"1.0.0"}\n',
    'server.js': 'console.log("hello");\n',
    'lib/util.js': 'module.exports = 1;\n',
  });
  return {
    ctx,
    root,
    dir,
    async build(n) {
      const reportFile = path.join(dir, `report-${n}.json`);
      const run = await tsbuildOk([
        '-t',
        'classic:1',
        '--progress',
        'plain',
        '--report',
        reportFile,
        '--root',
        root,
        ctx,
      ]);
      return { run, report: await readReport(reportFile), lines: stepLines(run.stderr) };
    },
  };
}

const outcomes = (r: Report): string[] => r.steps.map((s) => s.cache);

describe('the classic layer-order example through the CLI', () => {
  test('build 1 misses every step, build 2 hits every step (log and report)', async () => {
    const c = await classic();
    const first = await c.build(1);

    // The report: every instruction is a step, FROM included, in Dockerfile order with its line.
    expect(first.report.steps.map((s) => [s.index, s.line, s.instruction])).toEqual(
      INSTRUCTIONS.map((ins, i) => [i + 1, i + 1, ins]),
    );
    expect(first.report.steps.every((s) => s.stage === 'stage-0')).toBe(true);
    expect(first.report.image.name).toBe('docker.io/library/classic:1');
    // In an empty store every step misses, FROM included.
    expect(outcomes(first.report)).toEqual(Array(6).fill('miss'));
    for (const s of first.report.steps) expect(s.reason).toBe('no earlier build of this step');
    // COPY and WORKDIR make layers, metadata steps do not.
    expect(first.report.steps.map((s) => s.layer !== null)).toEqual([false, true, true, true, false, false]);
    expect(first.report.summary.steps).toBe(6);

    // The log: one line per step, misses with their reason.
    expect(first.lines).toHaveLength(6);
    first.lines.forEach((line, i) => expect(line.startsWith(`[${i + 1}/6] ${INSTRUCTIONS[i]}  `)).toBe(true));
    expect(first.run.stderr).toMatch(/^0\/6 steps cached \(0%\)/m);
    for (const line of first.lines) {
      expect(line).toMatch(/ {2}\d+\.\d+s {2}\(miss: no earlier build of this step\)$/);
    }
    expect(first.run.stderr).toContain(`image ${first.report.image.configDigest}`);

    const second = await c.build(2);
    expect(second.lines).toHaveLength(6);
    second.lines.forEach((line, i) => expect(line).toBe(`[${i + 1}/6] ${INSTRUCTIONS[i]}  CACHED`));
    expect(second.run.stderr).toMatch(/^6\/6 steps cached \(100%\) in \d+\.\d+s$/m);
    expect(outcomes(second.report)).toEqual(Array(6).fill('hit'));
    expect(second.report.summary).toMatchObject({ steps: 6, hits: 6, misses: 0 });
    // A fully cached rebuild is the very same image, layer for layer.
    expect(second.report.image).toEqual(first.report.image);
    expect(second.report.steps.map((s) => s.layer)).toEqual(first.report.steps.map((s) => s.layer));
  });

  test('editing one source file misses from `COPY . .` on, and the reason names the file', async () => {
    const c = await classic();
    const first = await c.build(1);
    await fsp.writeFile(path.join(c.ctx, 'lib/util.js'), 'module.exports = 2;\n');
    const { report, lines, run } = await c.build(2);

    expect(outcomes(report)).toEqual(['hit', 'hit', 'hit', 'miss', 'miss', 'miss']);
    expect(report.steps[3].reason).toBe('1 file changed: lib/util.js (content)');
    expect(report.steps[4].reason).toBe('parent step missed');
    expect(report.steps[5].reason).toBe('parent step missed');
    expect(report.summary).toMatchObject({ steps: 6, hits: 3, misses: 3 });
    expect(lines.slice(0, 3).every((l) => l.endsWith('  CACHED'))).toBe(true);
    expect(lines[3]).toMatch(
      /^\[4\/6\] COPY \. \. {2}\d+\.\d+s {2}\(miss: 1 file changed: lib\/util\.js \(content\)\)$/,
    );
    expect(lines[4]).toMatch(/\(miss: parent step missed\)$/);
    expect(run.stderr).toMatch(/^3\/6 steps cached \(50%\)/m);
    // The unchanged steps keep their layers; the image is new.
    expect(report.steps[2].layer).toEqual(first.report.steps[2].layer);
    expect(report.steps[3].layer?.digest).not.toBe(first.report.steps[3].layer?.digest);
    expect(report.image.configDigest).not.toBe(first.report.image.configDigest);
  });

  test('editing package.json misses from its COPY on', async () => {
    const c = await classic();
    await c.build(1);
    await fsp.writeFile(path.join(c.ctx, 'package.json'), '{"name":"app","version":"2.0.0"}\n');
    const { report, lines } = await c.build(2);

    expect(outcomes(report)).toEqual(['hit', 'hit', 'miss', 'miss', 'miss', 'miss']);
    expect(report.steps[2].reason).toBe('1 file changed: package.json (content)');
    expect(lines[2]).toMatch(
      /^\[3\/6\] COPY package\.json \.\/ .*\(miss: 1 file changed: package\.json \(content\)\)$/,
    );
    expect(lines[1]).toBe('[2/6] WORKDIR /app  CACHED');
  });

  test('touching a file (mtime only) causes no miss', async () => {
    const c = await classic();
    const first = await c.build(1);
    const later = new Date(Date.now() + 3_600_000);
    for (const f of ['server.js', 'package.json', 'lib/util.js'])
      await fsp.utimes(path.join(c.ctx, f), later, later);
    const { report, run } = await c.build(2);

    expect(outcomes(report)).toEqual(Array(6).fill('hit'));
    expect(run.stderr).toMatch(/^6\/6 steps cached \(100%\)/m);
    expect(report.image).toEqual(first.report.image);
  });

  test('editing content while keeping size and mtime is still a miss', async () => {
    const c = await classic();
    const file = path.join(c.ctx, 'server.js');
    // A whole second, so setting it back is exact.
    const stamp = new Date('2024-01-02T03:04:05Z');
    await fsp.utimes(file, stamp, stamp);
    await c.build(1);
    const before = await fsp.stat(file);
    await fsp.writeFile(file, 'console.log("HELLO");\n');
    await fsp.utimes(file, stamp, stamp);
    const after = await fsp.stat(file);
    expect([after.size, after.mtimeMs]).toEqual([before.size, before.mtimeMs]);
    const { report, lines } = await c.build(2);

    expect(outcomes(report)).toEqual(['hit', 'hit', 'hit', 'miss', 'miss', 'miss']);
    expect(report.steps[3].reason).toBe('1 file changed: server.js (content)');
    expect(lines[3]).toContain('(miss: 1 file changed: server.js (content))');
  });
  test('mode changes, added and removed files are each named in the reason', async () => {
    const c = await classic();
    await c.build(1);
    await fsp.chmod(path.join(c.ctx, 'server.js'), 0o755);
    await fsp.writeFile(path.join(c.ctx, 'lib/new.js'), 'new\n');
    await fsp.rm(path.join(c.ctx, 'lib/util.js'));
    const { report } = await c.build(2);

    expect(outcomes(report)).toEqual(['hit', 'hit', 'hit', 'miss', 'miss', 'miss']);
    const reason = report.steps[3].reason ?? '';
    expect(reason).toMatch(/^3 files changed: /);
    expect(reason).toContain('server.js (mode 644 → 755)');
    expect(reason).toContain('lib/new.js (added)');
    expect(reason).toContain('lib/util.js (removed)');
  });

  test('--no-cache rebuilds every step and says so', async () => {
    const c = await classic();
    await c.build(1);
    const reportFile = path.join(c.dir, 'no-cache.json');
    await tsbuildOk(['-t', 'classic:1', '--no-cache', '--report', reportFile, '--root', c.root, c.ctx]);
    const report = await readReport(reportFile);
    expect(report.steps.slice(1).map((s) => [s.cache, s.reason])).toEqual(
      Array(5).fill(['miss', '--no-cache']),
    );
  });
});
