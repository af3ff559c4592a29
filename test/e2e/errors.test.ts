/**
 * Bad input through the real CLI: the exit code (2 for bad input, 1 for a failed build), a message that
 * names the file and line with the source line beneath, and never a stack trace.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { expectNoStackTrace, requireE2e, TempDirs, tsbuild, writeTree, type Run } from '../helpers/e2e';

const temps = new TempDirs();
beforeAll(() => requireE2e());
afterAll(() => temps.cleanup());

async function buildWith(files: Record<string, string>, extra: string[] = []): Promise<Run> {
  const dir = await temps.make('errors');
  const ctx = path.join(dir, 'ctx');
  await writeTree(ctx, files);
  const run = await tsbuild([
    '-t',
    'bad:1',
    '--progress',
    'plain',
    '--root',
    path.join(dir, 'store'),
    ...extra,
    ctx,
  ]);
  expectNoStackTrace(run);
  return run;
}

describe('bad input', () => {
  test('a Dockerfile syntax error exits 2 with Dockerfile:N: and the line', async () => {
    const run = await buildWith({ Dockerfile: 'FROM scratch\n\nCOPY --chown=0 onlyone\n', onlyone: 'x' });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^Dockerfile:3: COPY requires at least two arguments/m);
    expect(run.stderr).toContain('COPY --chown=0 onlyone');
  });

  test('a Dockerfile with an unknown flag exits 2 with Dockerfile:N:', async () => {
    const run = await buildWith({ Dockerfile: 'FROM scratch\nCOPY --frobnicate=1 a /\n', a: 'a' });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^Dockerfile:2: unknown flag: --frobnicate/m);
  });

  test('an unknown instruction exits 2 and suggests the right one', async () => {
    const run = await buildWith({ Dockerfile: 'FROM scratch\nWORKDIR /app\nCOPPY . .\n' });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^Dockerfile:3: unknown instruction: COPPY \(did you mean COPY\?\)$/m);
    expect(run.stderr).toContain(' 3 | COPPY . .');
  });

  test('a missing COPY source fails the build: exit 1, Dockerfile:N: COPY failed:', async () => {
    const run = await buildWith({
      Dockerfile:
        'FROM scratch\nCOPY here.txt /\n# the next line names a file that is not there\nCOPY missing.txt /\n',
      'here.txt': 'here\n',
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^Dockerfile:4: COPY failed: .*missing\.txt/m);
    expect(run.stderr).toContain(' 4 | COPY missing.txt /');
  });

  test('a file excluded by .dockerignore is a missing COPY source too', async () => {
    const run = await buildWith({
      Dockerfile: 'FROM scratch\nCOPY secret.env /\n',
      '.dockerignore': 'secret.env\n',
      'secret.env': 'TOKEN=x\n',
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^Dockerfile:2: COPY failed: .*secret\.env/m);
  });

  test('a bad .dockerignore pattern exits 2 naming the .dockerignore file and line', async () => {
    const run = await buildWith({
      Dockerfile: 'FROM scratch\nCOPY . /\n',
      '.dockerignore': '# comment\nnode_modules\n[\n',
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^\S*\.dockerignore:3: .*\[/m);
  });

  test('a missing Dockerfile and a missing context exit 2', async () => {
    const noDockerfile = await buildWith({ 'a.txt': 'a' });
    expect(noDockerfile.status).toBe(2);
    expect(noDockerfile.stderr).toContain('Dockerfile');
    const dir = await temps.make('errors');
    const noContext = await tsbuild([
      '-t',
      'bad:1',
      '--root',
      path.join(dir, 'store'),
      path.join(dir, 'nope'),
    ]);
    expectNoStackTrace(noContext);
    expect(noContext.status).toBe(2);
    expect(noContext.stderr).toContain('nope');
  });

  test.each([
    [
      'COPY --from=127.0.0.1:1/gone /x /x',
      'Dockerfile:2: COPY --from=127.0.0.1:1/gone: HEAD http://127.0.0.1:1/',
    ],
    [
      'RUN --mount=type=bind,from=127.0.0.1:1/gone,target=/x true',
      'Dockerfile:2: RUN --mount from=127.0.0.1:1/gone: HEAD http://127.0.0.1:1/',
    ],
  ])('an unreachable image in %s fails at its line, with the registry reason', async (line, message) => {
    const run = await buildWith({ Dockerfile: `FROM scratch\n${line}\n` });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(message);
    expect(run.stderr).toContain('ECONNREFUSED');
  });

  test.each([
    [['--max-storage', '12QB'], 'invalid --max-storage "12QB"'],
    [['--cache-to', 'type=local'], 'invalid --cache-to "type=local": dest=DIR is required'],
    [['--cache-from', 'type=nope,src=x'], 'invalid --cache-from "type=nope,src=x"'],
    [['--isolation', 'chroot'], '--isolation chroot is not offered: a RUN can escape a bare chroot'],
    [['--network', 'host'], '--network host needs the network.host entitlement: add --allow network.host'],
    [['--allow', 'security.insecure'], '--allow security.insecure is not offered'],
  ])('a bad flag value %j exits 2 before any step runs', async (flags, message) => {
    const run = await buildWith({ Dockerfile: 'FROM scratch\nCOPY a.txt /\n', 'a.txt': 'a' }, flags);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stderr).not.toContain('[2/2]');
  });

  test('paths that cannot be used, unknown flags and bad platforms: one line each, exit 2, never a stack trace', async () => {
    const dir = await temps.make('paths');
    const file = path.join(dir, 'a-file');
    await writeTree(dir, { 'a-file': 'x' });
    const files = { Dockerfile: 'FROM scratch\nCOPY a.txt /\n', 'a.txt': 'a' };
    const cases: [string[], string][] = [
      [['--nope'], 'unknown flag: --nope; see tsbuild build --help'],
      [
        ['--iidfile', path.join(dir, 'missing', 'iid')],
        `cannot open ${path.join(dir, 'missing', 'iid')}: no such file or directory`,
      ],
      [['--report', path.join(file, 'r.json')], `a part of the path is not a directory`],
      [['-o', `type=docker,dest=${dir}`], `${dir}: it is a directory`],
      [['-f', dir], `failed to read Dockerfile: ${dir}: it is a directory`],
      [['--platform', 'foo/bar/baz/qux'], 'invalid platform foo/bar/baz/qux'],
    ];
    for (const [flags, message] of cases) {
      const run = await buildWith(files, flags);
      expect({ flags, status: run.status }).toEqual({ flags, status: 2 });
      // The build's own log may come first; the failure is one line, the last.
      expect(run.stderr.trim().split('\n').at(-1)).toContain(message);
    }
    for (const args of [['pull'], ['build', '--insecure-registry'], ['build', '--progress', 'fancy', dir]]) {
      const usage = await tsbuild(args);
      expectNoStackTrace(usage);
      expect({ args, status: usage.status }).toEqual({ args, status: 2 });
      expect(usage.stderr.trim().split('\n')).toHaveLength(1);
      expect(usage.stderr).toMatch(/; see tsbuild (pull|build) --help\n$/);
    }
    const root = await tsbuild(['--root', file, '-q', dir]);
    expect(root.status).toBe(2);
    expect(root.stderr.trim().split('\n')).toHaveLength(1);
  });

  test('an export that fails leaves the tag where it was', async () => {
    const dir = await temps.make('tag');
    const ctx = path.join(dir, 'ctx');
    const store = path.join(dir, 'store');
    await writeTree(ctx, { Dockerfile: 'FROM scratch\nCOPY a.txt /\n', 'a.txt': 'one' });
    const first = await tsbuild(['-q', '-t', 'kept:1', '--root', store, ctx]);
    expect(first.status).toBe(0);
    await writeTree(ctx, { 'a.txt': 'two' });
    const failed = await tsbuild([
      '-q',
      '-t',
      'kept:1',
      '--root',
      store,
      '-o',
      `type=docker,dest=${dir}`,
      ctx,
    ]);
    expect(failed.status).toBe(2);
    const inspect = await tsbuild(['inspect', '--root', store, 'kept:1']);
    expect(inspect.stdout).toContain(first.stdout.trim());
  });

  test('a full disk under the store is one line and exit 1', async () => {
    const dir = await temps.make('enospc');
    const small = path.join(dir, 'small');
    await writeTree(dir, { 'small/.keep': '' });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=96k', 'tmpfs', small]);
    try {
      const ctx = path.join(dir, 'ctx');
      await writeTree(ctx, {
        Dockerfile: 'FROM scratch\nCOPY big /\n',
        big: randomBytes(300_000).toString('hex'),
      });
      const run = await tsbuild(['-q', '--root', path.join(small, 'store'), ctx]);
      expectNoStackTrace(run);
      expect(run.status).toBe(1);
      expect(run.stderr.trim().split('\n').at(-1)).toContain('no space left on the device');
    } finally {
      execFileSync('umount', [small]);
    }
  });
});
