/**
 * A laptop (umask 0002) and CI (umask 0022) check out the same repository: the files are the same, only the
 * group write bits differ. With the default `--context-modes normalize` both builds share one store's cache and
 * make the same image, and the log says what was normalised; with `preserve` (docker build's behaviour) the
 * COPY misses and the report says it was the modes.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import {
  listTree,
  modeOwner,
  readReport,
  requireE2e,
  stepLines,
  TempDirs,
  tsbuildOk,
  unpack,
  writeTree,
  type Report,
  type Run,
} from '../helpers/e2e';

const DOCKERFILE = `FROM scratch
WORKDIR /app
COPY . .
CMD ["/app/bin/run.sh"]
`;

const FILES = {
  'README.md': '# app\n',
  'bin/run.sh': '#!/bin/sh\necho hi\n',
  'src/server.js': 'console.log("hello");\n',
  'src/lib/util.js': 'module.exports = 1;\n',
};
const DIRS = ['bin', 'src', 'src/lib'];
/** Every context path (the Dockerfile lives outside the contexts). */
const CONTEXT_PATHS = Object.keys(FILES).length + DIRS.length;

const temps = new TempDirs();
beforeAll(() => requireE2e('umoci'));
afterAll(() => temps.cleanup());

/**
 * The same checkout as `umask` makes it: chmod'ed explicitly, so the test does not depend on this process's umask.
 */
async function checkout(dir: string, name: string, umask: 0o002 | 0o022): Promise<string> {
  const ctx = path.join(dir, name);
  await writeTree(ctx, FILES);
  for (const f of Object.keys(FILES)) await fsp.chmod(path.join(ctx, f), 0o666 & ~umask);
  await fsp.chmod(path.join(ctx, 'bin/run.sh'), 0o777 & ~umask);
  for (const d of DIRS) await fsp.chmod(path.join(ctx, d), 0o777 & ~umask);
  return ctx;
}

interface Machines {
  dir: string;
  laptop: string;
  ci: string;
  /** Builds `ctx` into the shared store, with the shared Dockerfile (so the second build is explained against the first). */
  build(ctx: string, n: number, extra?: string[]): Promise<{ run: Run; report: Report; layout: string }>;
}

async function machines(): Promise<Machines> {
  const dir = await temps.make('umask');
  const dockerfile = path.join(dir, 'Dockerfile');
  await fsp.writeFile(dockerfile, DOCKERFILE);
  const root = path.join(dir, 'store');
  return {
    dir,
    laptop: await checkout(dir, 'laptop', 0o002),
    ci: await checkout(dir, 'ci', 0o022),
    async build(ctx, n, extra = []) {
      const reportFile = path.join(dir, `report-${n}.json`);
      const layout = path.join(dir, `oci-${n}`);
      const run = await tsbuildOk([
        '-t',
        'umask:v1',
        '-f',
        dockerfile,
        '--progress',
        'plain',
        '--report',
        reportFile,
        '--root',
        root,
        '-o',
        `type=oci,dest=${layout}`,
        ...extra,
        ctx,
      ]);
      return { run, report: await readReport(reportFile), layout };
    },
  };
}

const outcomes = (r: Report): string[] => r.steps.map((s) => s.cache);
const NORMALIZED_LINE =
  /^context: cleared group\/other write bits on (\d+) files \(umask 0002\?\); --context-modes=preserve keeps them$/m;

describe('a cache shared by a umask 0002 laptop and a umask 0022 CI runner', () => {
  test('normalize (default): the second checkout hits every step and makes the same image, files 0644', async () => {
    const m = await machines();
    const laptop = await m.build(m.laptop, 1);
    expect(outcomes(laptop.report)).toEqual(Array(4).fill('miss'));
    // Said once in the log and recorded in the report: every context path had its group write bit cleared.
    expect(laptop.run.stderr.match(new RegExp(NORMALIZED_LINE.source, 'gm'))).toHaveLength(1);
    expect(NORMALIZED_LINE.exec(laptop.run.stderr)?.[1]).toBe(String(CONTEXT_PATHS));
    expect(laptop.report.contextModes).toEqual({ policy: 'normalize', normalized: CONTEXT_PATHS });

    // What the laptop built has the modes a umask 0022 checkout has.
    const rootfs = await unpack(laptop.layout, 'v1', path.join(m.dir, 'bundle-1'));
    const seen: Record<string, string> = {};
    for (const f of await listTree(rootfs)) seen[f] = await modeOwner(path.join(rootfs, f));
    expect(seen).toEqual({
      app: '0755 0:0',
      'app/README.md': '0644 0:0',
      'app/bin': '0755 0:0',
      'app/bin/run.sh': '0755 0:0',
      'app/src': '0755 0:0',
      'app/src/server.js': '0644 0:0',
      'app/src/lib': '0755 0:0',
      'app/src/lib/util.js': '0644 0:0',
    });

    const ci = await m.build(m.ci, 2);
    expect(outcomes(ci.report)).toEqual(Array(4).fill('hit'));
    expect(stepLines(ci.run.stderr).every((l) => l.endsWith('  CACHED'))).toBe(true);
    expect(ci.run.stderr).toMatch(/^4\/4 steps cached \(100%\)/m);
    // Nothing to normalise on CI: no line, and the report says so.
    expect(ci.run.stderr).not.toMatch(/^context: /m);
    expect(ci.report.contextModes).toEqual({ policy: 'normalize', normalized: 0 });
    expect(ci.report.image).toEqual(laptop.report.image);
  });

  test('preserve: the modes are keyed as on disk, so the CI checkout misses the COPY and the report says why', async () => {
    const m = await machines();
    const laptop = await m.build(m.laptop, 1, ['--context-modes', 'preserve']);
    expect(laptop.run.stderr).not.toMatch(/^context: /m);
    expect(laptop.report.contextModes).toEqual({ policy: 'preserve', normalized: 0 });
    // As docker build does, the image keeps the laptop's modes.
    const rootfs = await unpack(laptop.layout, 'v1', path.join(m.dir, 'bundle-1'));
    expect(await modeOwner(path.join(rootfs, 'app/src/server.js'))).toBe('0664 0:0');
    expect(await modeOwner(path.join(rootfs, 'app/src'))).toBe('0775 0:0');

    const ci = await m.build(m.ci, 2, ['--context-modes', 'preserve']);
    expect(outcomes(ci.report)).toEqual(['hit', 'hit', 'miss', 'miss']);
    const reason = ci.report.steps[2].reason ?? '';
    expect(reason).toMatch(new RegExp(`^${CONTEXT_PATHS} files changed: `));
    // The first five are named (files and directories alike), the rest counted.
    expect(reason).toContain('README.md (mode 664 → 644)');
    expect(reason).toContain('bin/run.sh (mode 775 → 755)');
    expect(reason).toContain('src (mode 775 → 755)');
    expect(reason).toMatch(/, and 2 more$/);
    expect(ci.report.steps[3].reason).toBe('parent step missed');
    expect(ci.report.image.configDigest).not.toBe(laptop.report.image.configDigest);
  });
});
