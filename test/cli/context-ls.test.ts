/**
 * `tsbuild context ls` through the real compiled CLI: what a user types, what they see, which exit code.
 * The matching rules themselves are tested in test/context; here we check the command wires them up right.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'run.js');
const COMPILED = path.join(ROOT, 'dist', 'cli', 'commands', 'context', 'ls.js');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function tsbuild(args: string[], cwd = ROOT): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ls(args: string[], cwd?: string): string[] {
  const r = tsbuild(['context', 'ls', ...args], cwd);
  if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
  return r.stdout === '' ? [] : r.stdout.replace(/\n$/, '').split('\n');
}

/** Files from a map of relative path → content; a path ending in `/` is an empty directory. */
function writeTree(root: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(root, rel);
    if (rel.endsWith('/')) {
      fs.mkdirSync(abs, { recursive: true });
      continue;
    }
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, content);
  }
}

beforeAll(() => {
  const started = Date.now();
  try {
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'pipe' });
  } catch (e) {
    // tsc still emits when a file elsewhere in the tree (someone else's work in progress) has type errors;
    // the test only needs this command freshly compiled. Anything else is a real failure.
    const fresh = fs.existsSync(COMPILED) && fs.statSync(COMPILED).mtimeMs >= started - 1000;
    if (!fresh) throw e;
  }
}, 300_000);

describe('tsbuild context ls', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsbuild-ctx-ls-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('no .dockerignore: every path, relative, /-separated, sorted by code point', () => {
    writeTree(dir, {
      Dockerfile: 'FROM scratch\n',
      'a/b/c.txt': 'c',
      'a-z': 'dash sorts before slash',
      'empty/': '',
      '\u{E000}': 'private use, U+E000',
      '\u{1F600}': 'astral, sorts after U+E000 by code point (not by UTF-16 unit)',
    });
    fs.symlinkSync('a/b/c.txt', path.join(dir, 'link'));
    fs.symlinkSync('/nowhere', path.join(dir, 'dangling'));
    expect(ls([dir])).toEqual([
      'Dockerfile',
      'a',
      'a-z',
      'a/b',
      'a/b/c.txt',
      'dangling',
      'empty',
      'link',
      '\u{E000}',
      '\u{1F600}',
    ]);
  });

  test('CONTEXT defaults to the working directory', () => {
    writeTree(dir, { Dockerfile: 'FROM scratch\n', 'x.txt': 'x', '.dockerignore': 'x.txt\n' });
    expect(ls([], dir)).toEqual(['.dockerignore', 'Dockerfile']);
  });

  test('exceptions (!) re-include paths, and the excluded parents of a re-included path are listed', () => {
    writeTree(dir, {
      Dockerfile: 'FROM scratch\n',
      '.dockerignore': ['*.log', '!keep.log', 'vendor', '!vendor/pinned/lib.go', 'build/', ''].join('\n'),
      'app.log': '',
      'keep.log': '',
      'main.go': '',
      'vendor/other/x.go': '',
      'vendor/pinned/lib.go': '',
      'vendor/pinned/extra.go': '',
      'build/out.bin': '',
    });
    expect(ls([dir])).toEqual([
      '.dockerignore',
      'Dockerfile',
      'keep.log',
      'main.go',
      'vendor',
      'vendor/pinned',
      'vendor/pinned/lib.go',
    ]);
  });

  test('** matches any number of directories; a later exception wins over an earlier exclusion', () => {
    writeTree(dir, {
      Dockerfile: 'FROM scratch\n',
      '.dockerignore': ['**/*.tmp', '!src/**/keep.tmp', 'docs/**', '**/secret'].join('\n'),
      'top.tmp': '',
      'src/a.ts': '',
      'src/deep/er/b.tmp': '',
      'src/deep/er/keep.tmp': '',
      'docs/index.md': '',
      'docs/img/logo.png': '',
      secret: '',
      'src/deep/secret': '',
    });
    expect(ls([dir])).toEqual([
      '.dockerignore',
      'Dockerfile',
      // `docs/**` matches what is inside docs, not docs itself: the build still sees an empty directory.
      'docs',
      'src',
      'src/a.ts',
      'src/deep',
      'src/deep/er',
      'src/deep/er/keep.tmp',
    ]);
  });

  test('the Dockerfile and .dockerignore are listed only when the patterns do not exclude them', () => {
    writeTree(dir, {
      Dockerfile: 'FROM scratch\n',
      '.dockerignore': 'Dockerfile\n.dockerignore\n',
      'app.js': '',
    });
    expect(ls([dir])).toEqual(['app.js']);
  });

  test('<Dockerfile>.dockerignore (from -f) takes precedence over CONTEXT/.dockerignore', () => {
    writeTree(dir, {
      '.dockerignore': 'a.txt\n',
      'build/app.Dockerfile': 'FROM scratch\n',
      'build/app.Dockerfile.dockerignore': 'b.txt\nbuild/app.Dockerfile*\n',
      'a.txt': '',
      'b.txt': '',
    });
    const dockerfile = path.join(dir, 'build', 'app.Dockerfile');
    expect(ls([dir, '-f', dockerfile])).toEqual(['.dockerignore', 'a.txt', 'build']);
    expect(ls([dir, '--file', dockerfile])).toEqual(['.dockerignore', 'a.txt', 'build']);
    // Without -f, CONTEXT/Dockerfile is the Dockerfile, so the context's own .dockerignore applies.
    expect(ls([dir])).toEqual([
      '.dockerignore',
      'b.txt',
      'build',
      'build/app.Dockerfile',
      'build/app.Dockerfile.dockerignore',
    ]);
  });

  test('a relative -f is relative to the working directory, as with docker build', () => {
    writeTree(dir, {
      'ctx/x.txt': '',
      'ctx/y.txt': '',
      'df/Dockerfile': 'FROM scratch\n',
      'df/Dockerfile.dockerignore': 'x.txt\n',
    });
    expect(ls(['ctx', '-f', 'df/Dockerfile'], dir)).toEqual(['y.txt']);
  });

  test('the default Dockerfile CONTEXT/Dockerfile also finds CONTEXT/Dockerfile.dockerignore', () => {
    writeTree(dir, {
      Dockerfile: 'FROM scratch\n',
      'Dockerfile.dockerignore': 'a.txt\n',
      '.dockerignore': 'b.txt\n',
      'a.txt': '',
      'b.txt': '',
    });
    expect(ls([dir])).toEqual(['.dockerignore', 'Dockerfile', 'Dockerfile.dockerignore', 'b.txt']);
  });

  test('a bad pattern exits 2 with file:line and no stack trace', () => {
    writeTree(dir, { Dockerfile: 'FROM scratch\n', '.dockerignore': '# ok\n*.log\n[\n' });
    const r = tsbuild(['context', 'ls', dir]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${path.join(dir, '.dockerignore')}:3: syntax error in pattern: "["`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test('a lone "!" in <Dockerfile>.dockerignore names that file and line', () => {
    writeTree(dir, { 'app.Dockerfile': 'FROM scratch\n', 'app.Dockerfile.dockerignore': 'a\n!\n' });
    const dockerfile = path.join(dir, 'app.Dockerfile');
    const r = tsbuild(['context', 'ls', dir, '-f', dockerfile]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${dockerfile}.dockerignore:2: illegal exclusion pattern: "!"`);
  });

  test('a missing context directory exits 2', () => {
    const missing = path.join(dir, 'nope');
    const r = tsbuild(['context', 'ls', missing]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`build context ${missing} not found`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test('a context that is a file exits 2', () => {
    writeTree(dir, { 'file.txt': '' });
    const r = tsbuild(['context', 'ls', path.join(dir, 'file.txt')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('is not a directory');
  });

  test('an empty context prints nothing', () => {
    const r = tsbuild(['context', 'ls', dir]);
    expect(r).toEqual({ status: 0, stdout: '', stderr: '' });
  });
});
