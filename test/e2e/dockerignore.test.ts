/**
 * `.dockerignore` through the real CLI, checked in the image itself (`umoci unpack`): ignored files never
 * reach a layer nor the cache key, `!` exceptions re-include, and the Dockerfile and .dockerignore can be
 * ignored like any other file.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { listTree, readReport, requireE2e, TempDirs, tsbuildOk, unpack, writeTree } from '../helpers/e2e';

const temps = new TempDirs();
beforeAll(() => requireE2e('umoci'));
afterAll(() => temps.cleanup());

const DOCKERFILE = `# copies the whole context
FROM scratch
COPY . /app/
`;

async function setup(): Promise<{ dir: string; ctx: string; root: string }> {
  const dir = await temps.make('ignore');
  const ctx = path.join(dir, 'ctx');
  await writeTree(ctx, {
    Dockerfile: DOCKERFILE,
    '.dockerignore': [
      '# secrets and logs stay out',
      'secret.env',
      'logs/*.log',
      '!logs/keep.log',
      '**/*.tmp',
      'node_modules',
      'Dockerfile',
      '.dockerignore',
    ].join('\n'),
    'secret.env': 'TOKEN=hunter2\n',
    'logs/debug.log': 'noise\n',
    'logs/keep.log': 'kept\n',
    'src/a.js': 'a\n',
    'src/deep/b.js': 'b\n',
    'src/deep/scratch.tmp': 'tmp\n',
    'node_modules/x/index.js': 'x\n',
  });
  return { dir, ctx, root: path.join(dir, 'store') };
}

async function build(dir: string, ctx: string, root: string, n: number) {
  const layout = path.join(dir, `oci-${n}`);
  const reportFile = path.join(dir, `report-${n}.json`);
  await tsbuildOk([
    '-t',
    'ignored:v1',
    '--progress',
    'plain',
    '--report',
    reportFile,
    '--root',
    root,
    '-o',
    `type=oci,dest=${layout}`,
    ctx,
  ]);
  const rootfs = await unpack(layout, 'v1', path.join(dir, `bundle-${n}`));
  return { report: await readReport(reportFile), files: await listTree(rootfs), rootfs };
}

describe('.dockerignore', () => {
  test('ignored files never reach a layer; `!` re-includes; Dockerfile and .dockerignore can be ignored', async () => {
    const { dir, ctx, root } = await setup();
    const { files, rootfs } = await build(dir, ctx, root, 1);
    expect(files).toEqual([
      'app',
      'app/logs',
      'app/logs/keep.log',
      'app/src',
      'app/src/a.js',
      'app/src/deep',
      'app/src/deep/b.js',
    ]);
    expect(await fsp.readFile(path.join(rootfs, 'app/logs/keep.log'), 'utf8')).toBe('kept\n');
  });

  test('editing ignored files (the Dockerfile comment included) causes no miss', async () => {
    const { dir, ctx, root } = await setup();
    const first = await build(dir, ctx, root, 1);
    await writeTree(ctx, {
      'secret.env': 'TOKEN=changed-and-longer\n',
      'logs/debug.log': 'more noise\n',
      'logs/new.log': 'new\n',
      'src/deep/other.tmp': 'tmp\n',
      'node_modules/y/index.js': 'y\n',
      Dockerfile: `# copies the whole context, edited\n${DOCKERFILE.split('\n').slice(1).join('\n')}`,
    });
    const second = await build(dir, ctx, root, 2);
    expect(second.report.steps.map((s) => [s.instruction, s.cache])).toEqual([
      ['FROM scratch', 'hit'],
      ['COPY . /app/', 'hit'],
    ]);
    expect(second.report.image).toEqual(first.report.image);
    expect(second.files).toEqual(first.files);

    // A file the exception re-includes is in the key: editing it misses and is named.
    await fsp.writeFile(path.join(ctx, 'logs/keep.log'), 'kept, edited\n');
    const third = await build(dir, ctx, root, 3);
    expect(third.report.steps[1]).toMatchObject({
      cache: 'miss',
      reason: '1 file changed: logs/keep.log (content)',
    });
  });
});
