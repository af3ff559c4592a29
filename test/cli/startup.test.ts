/**
 * How the CLI starts (issue 7): one bundle (dist/tsbuild.js, made by scripts/build.mjs), oclif's manifest of the
 * commands beside it, and a V8 code cache that bin/run.js writes. Checked through the real bin/run.js: every
 * command under src/cli/commands is still found and listed, `build` is still the default, the code cache is
 * written once and trusted only for the bundle it was made from, and a bug's stack maps back to src/*.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'run.js');
const DIST = path.join(ROOT, 'dist');
const BUNDLE = path.join(DIST, 'tsbuild.js');
const COMMANDS_SRC = path.join(ROOT, 'src', 'cli', 'commands');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function tsbuild(args: string[], env: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Command ids as oclif's default discovery would name them: `cache/ls.ts` → `cache ls`. */
function commandIds(dir = COMMANDS_SRC, prefix: string[] = []): string[] {
  const ids: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) ids.push(...commandIds(path.join(dir, entry.name), [...prefix, entry.name]));
    else if (entry.name.endsWith('.ts')) ids.push([...prefix, entry.name.slice(0, -3)].join(' '));
  }
  return ids.sort();
}

beforeAll(() => {
  const started = Date.now();
  try {
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'pipe' });
  } catch (e) {
    // tsc's status is the build's, but the bundle is made whenever tsc emitted: someone else's type error
    // elsewhere still leaves a fresh bundle, which is all these tests need.
    const fresh = fs.existsSync(BUNDLE) && fs.statSync(BUNDLE).mtimeMs >= started - 1000;
    if (!fresh) throw e;
  }
}, 300_000);

describe('commands', () => {
  const ids = commandIds();

  test('the source tree has the commands we expect to find', () => {
    expect(ids).toEqual(expect.arrayContaining(['build', 'cache ls', 'context ls', 'parse', 'pull']));
  });

  test('the manifest beside the bundle lists every command', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(DIST, 'oclif.manifest.json'), 'utf8')) as {
      commands: Record<string, unknown>;
    };
    expect(
      Object.keys(manifest.commands)
        .map((id) => id.replaceAll(':', ' '))
        .sort(),
    ).toEqual(ids);
  });

  test('--help lists every command and topic, with the topics described', () => {
    const r = tsbuild(['--help']);
    expect(r.status).toBe(0);
    for (const id of ids) {
      const [first] = id.split(' ');
      expect(r.stdout).toMatch(new RegExp(`^  ${first} `, 'm'));
    }
    expect(r.stdout).toMatch(/^ {2}cache {4}The layer cache in the store/m);
    expect(r.stdout).toMatch(/^ {2}context {2}The build context/m);
  });

  test.each(commandIds())('`%s --help` finds the command', (id) => {
    const r = tsbuild([...id.split(' '), '--help']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`$ tsbuild ${id}`);
  });

  test('oclif reads the manifest: listing commands loads none of them', () => {
    const r = tsbuild(['--version'], { DEBUG: 'oclif:config:tsbuild' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^tsbuild\/\d+\.\d+\.\d+ /);
    expect(r.stderr).toContain(`using manifest from ${path.join(DIST, 'oclif.manifest.json')}`);
  });
});

describe('build is the default command', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsbuild-startup-'));
    fs.mkdirSync(path.join(dir, 'ctx'));
    fs.writeFileSync(path.join(dir, 'ctx', 'Dockerfile'), 'FROM scratch\nLABEL a=b\n');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('`tsbuild -t x CONTEXT` builds', () => {
    const r = tsbuild(['-t', 'x', '-q', '--root', path.join(dir, 'store'), path.join(dir, 'ctx')]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
  });

  test('a context that is a bare word (not a command) builds too', () => {
    const r = spawnSync(process.execPath, [BIN, '-q', '--root', path.join(dir, 'store'), 'ctx'], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
  });

  test('`tsbuild build …` is the same build', () => {
    const a = tsbuild(['-q', '--root', path.join(dir, 'store'), path.join(dir, 'ctx')]);
    const b = tsbuild(['build', '-q', '--root', path.join(dir, 'store'), path.join(dir, 'ctx')]);
    expect(a.status).toBe(0);
    expect(b.stdout).toBe(a.stdout);
  });
});

describe('code cache', () => {
  const cacheFile = `${BUNDLE}.v8cache`;

  function header(): string {
    const buf = fs.readFileSync(cacheFile);
    return buf.toString('latin1', 0, buf.indexOf(10));
  }

  test('written for this bundle, then trusted as it is', () => {
    expect(tsbuild(['--version']).status).toBe(0);
    const st = fs.statSync(BUNDLE);
    // Written by this run or an earlier one (other test files run the CLI too); either way for this bundle.
    expect(header()).toMatch(
      new RegExp(`^tsbuild-v8cache 1 ${st.size} ${st.mtimeMs} ${st.ino} (build|other)$`),
    );
  });

  test('a cache that is not V8 data for this bundle is rejected and rewritten, and the CLI still runs', () => {
    const st = fs.statSync(BUNDLE);
    const tmp = `${cacheFile}.test.tmp`;
    fs.writeFileSync(tmp, `tsbuild-v8cache 1 ${st.size} ${st.mtimeMs} ${st.ino} build\nnot V8 data at all`);
    fs.renameSync(tmp, cacheFile);
    const r = tsbuild(['--version']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(fs.statSync(cacheFile).size).toBeGreaterThan(10_000);
  });

  test('a cache made for another bundle (size, mtime or inode differ) is never used', () => {
    const tmp = `${cacheFile}.test.tmp`;
    fs.writeFileSync(tmp, 'tsbuild-v8cache 1 1 1 1 build\nnot V8 data at all');
    fs.renameSync(tmp, cacheFile);
    const r = tsbuild(['--version']);
    expect(r.status).toBe(0);
    expect(header()).not.toBe('tsbuild-v8cache 1 1 1 1 build');
  });
});

describe('stack traces', () => {
  test('a frame in the bundle maps back to the TypeScript source', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { mapStack } = require(BIN) as { mapStack: (stack: string) => string };
    const lines = fs.readFileSync(BUNDLE, 'utf8').split('\n');
    const line = lines.findIndex((l) => /^\s*function parseDockerfile\(/.test(l));
    expect(line).toBeGreaterThan(0);
    const column = lines[line].indexOf('function') + 1;
    const mapped = mapStack(`Error: boom\n    at parseDockerfile (${BUNDLE}:${line + 1}:${column})`);
    expect(mapped).toMatch(
      new RegExp(`at parseDockerfile \\(${path.join(ROOT, 'src', 'parser')}/[a-z-]+\\.ts:\\d+:\\d+\\)`),
    );
  });

  test('a user mistake still prints one message, no stack, even with TSBUILD_DEBUG unset', () => {
    const r = tsbuild(['parse', path.join(os.tmpdir(), 'tsbuild-no-such-dockerfile')]);
    expect(r.status).toBe(2);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});
