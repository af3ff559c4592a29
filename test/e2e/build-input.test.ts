/**
 * docker build's inputs through the real CLI with stdin piped: `-f -` with a directory, `build -` with a Dockerfile
 * (an empty context) or a tar context (plain, gzip; xz needing its program), a tarball URL served on loopback, a
 * tar that tries to escape, stdin left unread when no `-` asks for it, and stdin for both. The image's files are
 * checked in the `--output type=local` tree; no scratch context is left in the store's runs/ afterwards.
 */
import { execFileSync, spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import {
  BIN,
  expectNoStackTrace,
  listTree,
  PROJECT,
  requireE2e,
  TempDirs,
  writeTree,
  type Run,
} from '../helpers/e2e';
import { rawTar } from '../layers/support/tar-helpers';

const temps = new TempDirs();
let server: http.Server;
let base: string;
const served = new Map<string, Buffer>();

beforeAll(async () => {
  requireE2e();
  server = http.createServer((req, res) => {
    const body = served.get(req.url ?? '');
    if (body === undefined) res.writeHead(404).end();
    else res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await temps.cleanup();
});

interface StdinRun {
  /** Written to stdin, which is then closed; `open` keeps it open (and unread, if all is well) until the exit. */
  input?: Buffer | string;
  open?: boolean;
  cwd?: string;
  env?: Record<string, string>;
}

/** `tsbuild ARGS` with stdin a pipe. */
function tsbuildPiped(args: string[], options: StdinRun = {}): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? PROJECT,
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.on('error', () => undefined); // a CLI that exits before reading all of it
  if (options.input !== undefined) child.stdin.write(options.input);
  if (!options.open) child.stdin.end();
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => {
      child.stdin.destroy();
      resolve({ status, signal, stdout, stderr });
    });
  });
}

interface Setup {
  dir: string;
  root: string;
  out: string;
  args: string[];
}

async function setup(name: string): Promise<Setup> {
  const dir = await temps.make(`input-${name}`);
  const root = path.join(dir, 'store');
  const out = path.join(dir, 'out');
  return { dir, root, out, args: ['--progress', 'plain', '--root', root, '-o', `type=local,dest=${out}`] };
}

async function tarOf(dir: string, files: Record<string, string>): Promise<Buffer> {
  const src = await fsp.mkdtemp(path.join(dir, 'src-'));
  await writeTree(src, files);
  return execFileSync('tar', ['-C', src, '-cf', '-', '.']);
}

async function expectRunsEmpty(root: string): Promise<void> {
  expect(await fsp.readdir(path.join(root, 'runs')).catch(() => [])).toEqual([]);
}

function ok(run: Run): Run {
  expectNoStackTrace(run);
  if (run.status !== 0)
    throw new Error(`tsbuild exited ${run.status ?? run.signal}\n--- stderr ---\n${run.stderr}`);
  return run;
}

describe('build inputs as docker build takes them', () => {
  test('-f - reads the Dockerfile from stdin; the directory is the context and its .dockerignore applies', async () => {
    const s = await setup('dash-f');
    const ctx = path.join(s.dir, 'ctx');
    await writeTree(ctx, {
      'a.txt': 'a\n',
      'secret.env': 'TOKEN=x\n',
      '.dockerignore': 'secret.env\n',
      // Names the stdin Dockerfile's own ignore file only for a Dockerfile of that name in the context: not used.
      'Dockerfile.dockerignore': 'a.txt\n',
    });
    ok(await tsbuildPiped(['build', '-f', '-', ...s.args, ctx], { input: 'FROM scratch\nCOPY . /app/\n' }));
    expect(await listTree(s.out)).toEqual([
      'app',
      'app/.dockerignore',
      'app/Dockerfile.dockerignore',
      'app/a.txt',
    ]);
    // Nothing was written into the user's tree.
    expect((await fsp.readdir(ctx)).sort()).toEqual([
      '.dockerignore',
      'Dockerfile.dockerignore',
      'a.txt',
      'secret.env',
    ]);

    // An error in it names the file Dockerfile, as BuildKit does.
    const bad = await tsbuildPiped(['-f', '-', ...s.args, ctx], { input: 'FROM scratch\nCOPPY a.txt /\n' });
    expectNoStackTrace(bad);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^Dockerfile:2: unknown instruction: COPPY/m);
  });

  test('build - with a Dockerfile: an empty context, so a COPY fails with one line', async () => {
    const s = await setup('dockerfile');
    ok(await tsbuildPiped(['build', '-', ...s.args], { input: 'FROM scratch\nLABEL from=stdin\n' }));
    const copy = await tsbuildPiped(['build', '-', ...s.args], { input: 'FROM scratch\nCOPY a.txt /\n' });
    expectNoStackTrace(copy);
    expect(copy.status).toBe(1);
    expect(copy.stderr).toMatch(/^Dockerfile:2: COPY failed: "a.txt": not found in the build context/m);
    await expectRunsEmpty(s.root);
  });

  test.each([
    ['a tar', (tar: Buffer) => tar],
    ['a gzipped tar', (tar: Buffer) => zlib.gzipSync(tar)],
  ])(
    'build - with %s: the context, its Dockerfile inside, no .dockerignore (as BuildKit)',
    async (_, encode) => {
      const s = await setup('tar');
      const tar = await tarOf(s.dir, {
        Dockerfile: 'FROM scratch\nCOPY . /app/\n',
        'build/other.Dockerfile': 'FROM scratch\nCOPY src /src\n',
        'src/main.js': 'main\n',
        '.dockerignore': 'src\n',
      });
      ok(await tsbuildPiped(['-', ...s.args], { input: encode(tar) }));
      expect(await listTree(s.out)).toEqual([
        'app',
        'app/.dockerignore',
        'app/Dockerfile',
        'app/build',
        'app/build/other.Dockerfile',
        'app/src',
        'app/src/main.js',
      ]);
      // -f names a path inside the archive.
      await fsp.rm(s.out, { recursive: true });
      ok(await tsbuildPiped(['-f', 'build/other.Dockerfile', '-', ...s.args], { input: encode(tar) }));
      expect(await listTree(s.out)).toEqual(['src', 'src/main.js']);
      await expectRunsEmpty(s.root);
    },
  );

  test('an xz context without the xz program says what is missing; the scratch context goes', async () => {
    const s = await setup('xz');
    const tar = await tarOf(s.dir, { Dockerfile: 'FROM scratch\n' });
    const xz = execFileSync('xz', ['-c'], { input: tar });
    const run = await tsbuildPiped(['-', ...s.args], { input: xz, env: { PATH: s.dir } });
    expectNoStackTrace(run);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(
      'the build context on stdin is xz-compressed, and unpacking it needs `xz`, which is not installed',
    );
    await expectRunsEmpty(s.root);
  });

  test('build http://…/ctx.tar: a tarball URL is the context', async () => {
    const s = await setup('url');
    served.set(
      '/ctx.tar',
      await tarOf(s.dir, { Dockerfile: 'FROM scratch\nCOPY hello.txt /\n', 'hello.txt': 'hi\n' }),
    );
    ok(await tsbuildPiped(['build', ...s.args, `${base}/ctx.tar`]));
    expect(await fsp.readFile(path.join(s.out, 'hello.txt'), 'utf8')).toBe('hi\n');
    const missing = await tsbuildPiped(['build', ...s.args, `${base}/gone.tar`]);
    expectNoStackTrace(missing);
    expect(missing.status).toBe(1);
    expect(missing.stderr.trim()).toBe(
      `unable to prepare context: ${base}/gone.tar: server responded with HTTP 404 Not Found`,
    );
    await expectRunsEmpty(s.root);
  });

  test('a tar that escapes with .. or a symlink is refused, and nothing lands outside', async () => {
    const s = await setup('escape');
    const escapes = rawTar([
      { header: { name: 'Dockerfile' }, data: Buffer.from('FROM scratch\nCOPY . /\n') },
      { header: { name: '../escape' }, data: Buffer.from('gotcha') },
    ]);
    const dotdot = await tsbuildPiped(['-', ...s.args], { input: escapes });
    expectNoStackTrace(dotdot);
    expect(dotdot.status).toBe(2);
    expect(dotdot.stderr.trim()).toBe(
      'the build context on stdin: refusing entry "../escape": its path climbs out of the archive with ..',
    );

    const target = path.join(s.dir, 'target');
    await fsp.mkdir(target);
    const throughLink = rawTar([
      { header: { name: 'Dockerfile' }, data: Buffer.from('FROM scratch\nCOPY . /\n') },
      { header: { name: 'up', typeflag: '2', linkname: '../../../../../../..' } },
      { header: { name: 'lnk', typeflag: '2', linkname: target } },
      { header: { name: 'lnk/pwned' }, data: Buffer.from('gotcha') },
    ]);
    const link = await tsbuildPiped(['-', ...s.args], { input: throughLink });
    expectNoStackTrace(link);
    expect(link.status).toBe(2);
    expect(link.stderr).toContain(
      'refusing entry "up": it is a symlink to "../../../../../../..", outside the archive',
    );
    const confined = rawTar([
      { header: { name: 'Dockerfile' }, data: Buffer.from('FROM scratch\nCOPY . /\n') },
      { header: { name: 'lnk', typeflag: '2', linkname: target } },
      { header: { name: 'lnk/pwned' }, data: Buffer.from('gotcha') },
    ]);
    const through = await tsbuildPiped(['-', ...s.args], { input: confined });
    expect(through.status).toBe(2);
    expect(through.stderr).toContain('refusing entry "lnk/pwned": its parent lnk is a symlink');

    expect(await fsp.readdir(target)).toEqual([]);
    expect(await fsp.readdir(s.dir)).not.toContain('escape');
    await expectRunsEmpty(s.root);
  });

  test('with no context argument, piped stdin is not read: the context is .', async () => {
    const s = await setup('no-arg');
    const ctx = path.join(s.dir, 'ctx');
    await writeTree(ctx, { Dockerfile: 'FROM scratch\nCOPY a.txt /\n', 'a.txt': 'from the directory\n' });
    // oclif reads piped stdin into an argument left out; not here.
    const closed = ok(await tsbuildPiped(s.args, { cwd: ctx, input: 'garbage that is no path\n' }));
    expect(closed.stderr).not.toContain('garbage');
    expect(await fsp.readFile(path.join(s.out, 'a.txt'), 'utf8')).toBe('from the directory\n');
    // Stdin left open: a CLI that read it would wait for an end that never comes.
    await fsp.rm(s.out, { recursive: true });
    ok(await tsbuildPiped(['build', ...s.args], { cwd: ctx, input: 'FROM scratch\n', open: true }));
    expect(await fsp.readFile(path.join(s.out, 'a.txt'), 'utf8')).toBe('from the directory\n');
  });

  test('stdin for both the context and the Dockerfile is docker’s invalid argument', async () => {
    const s = await setup('both');
    const run = await tsbuildPiped(['build', '-f', '-', ...s.args, '-'], { input: 'FROM scratch\n' });
    expectNoStackTrace(run);
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe("invalid argument: can't use stdin for both build context and dockerfile");
  });
});
