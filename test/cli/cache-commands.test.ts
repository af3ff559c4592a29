/**
 * `tsbuild cache ls|du|prune|check|explain` through the real compiled CLI, on stores made by real `tsbuild build`
 * runs: what a user types, what they see, which exit code. The logic itself is tested in test/cache and
 * test/report; here the acceptance checks of the cache issue are run end to end.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'run.js');
const COMPILED = ['ls', 'du', 'prune', 'check', 'explain'].map((c) =>
  path.join(ROOT, 'dist', 'cli', 'commands', 'cache', `${c}.js`),
);

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function tsbuild(args: string[]): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Run and insist on exit 0. */
function ok(args: string[]): string {
  const r = tsbuild(args);
  if (r.status !== 0) throw new Error(`tsbuild ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return r.stdout;
}

interface ReportStep {
  stage: string;
  index: number;
  instruction: string;
  cache: 'hit' | 'miss';
  reason: string | null;
}

beforeAll(() => {
  const started = Date.now();
  try {
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'pipe' });
  } catch (e) {
    // tsc still emits when someone else's work in progress has type errors; these commands only need to be fresh.
    const fresh = COMPILED.every((f) => fs.existsSync(f) && fs.statSync(f).mtimeMs >= started - 1000);
    if (!fresh) throw e;
  }
}, 300_000);

let dir: string;
let store: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsbuild-cache-cli-'));
  store = path.join(dir, 'store');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeTree(root: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(root, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, content);
  }
}

const APP = `FROM scratch
WORKDIR /app
COPY package.json ./
COPY src/ ./src/
ENV NODE_ENV=production
CMD ["node", "src/server.js"]
`;

function appContext(name = 'ctx'): string {
  const ctx = path.join(dir, name);
  writeTree(ctx, {
    Dockerfile: APP,
    'package.json': '{"name":"app"}\n',
    'src/server.js': 'console.log(1)\n',
  });
  return ctx;
}

/** Build through the CLI; returns the --report steps. */
function build(ctx: string, extra: string[] = []): ReportStep[] {
  const report = path.join(dir, `report-${randomBytes(4).toString('hex')}.json`);
  ok(['build', '--root', store, '-q', '--report', report, ...extra, ctx]);
  return (JSON.parse(fs.readFileSync(report, 'utf8')) as { steps: ReportStep[] }).steps;
}

function duTotal(): number {
  return (JSON.parse(ok(['cache', 'du', '--root', store, '--json'])) as { total: number }).total;
}

interface LsRecord {
  key: string;
  description: string;
  size: number;
  layer: string | null;
}

function records(): LsRecord[] {
  return JSON.parse(ok(['cache', 'ls', '--root', store, '--json'])) as LsRecord[];
}

function blobFile(digest: string): string {
  return path.join(store, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

describe('tsbuild cache ls and du', () => {
  test('ls lists each built step with its layer size, last use and instruction; du adds up the store', () => {
    build(appContext(), ['-t', 'app:1']);
    const lines = ok(['cache', 'ls', '--root', store]).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^KEY\s+SIZE\s+LAST USED\s+CREATED\s+BUILD TIME\s+STEP$/);
    const copy = lines.find((l) => l.endsWith('COPY src/ ./src/'));
    expect(copy).toMatch(
      /^[0-9a-f]{12}\s+\d+(\.\d+)?k?B\s+just now\s+just now\s+\d+(\.\d+)?m?s\s+COPY src\/ \.\/src\/$/,
    );
    expect(lines.find((l) => l.endsWith('ENV NODE_ENV=production'))).toMatch(/\s0B\s/);

    const du = ok(['cache', 'du', '--root', store]);
    expect(du).toMatch(/^KIND\s+COUNT\s+SIZE$/m);
    expect(du).toMatch(/^cache layers .*\s+3\s+\S+B$/m); // WORKDIR, COPY, COPY
    expect(du).toMatch(/^image blobs .*\s+2\s+\S+B$/m); // the tag's manifest and config
    expect(du).toMatch(/^unreferenced blobs .*\s+0\s+0B$/m);
    expect(du).toMatch(/^total\s+\S+B$/m);
    expect(du).toMatch(/builds prune the store to \S+B by default/);
    const json = JSON.parse(ok(['cache', 'du', '--root', store, '--json'])) as {
      total: number;
      rows: { bytes: number }[];
    };
    expect(json.total).toBe(json.rows.reduce((n, r) => n + r.bytes, 0));
  });

  test('an empty store lists nothing and weighs nothing', () => {
    expect(ok(['cache', 'ls', '--root', store])).toMatch(
      /^KEY\s+SIZE\s+LAST USED\s+CREATED\s+BUILD TIME\s+STEP\n$/,
    );
    expect(duTotal()).toBe(0);
  });
});

describe('tsbuild cache prune', () => {
  test('--keep-storage brings the store under the bound; the tagged image survives unless --all', () => {
    const DF = 'FROM scratch\nCOPY data.bin /data/\nCOPY app.js /app/\n';
    const contexts = [0, 1, 2, 3].map((i) => {
      const ctx = path.join(dir, `ctx${i}`);
      writeTree(ctx, { Dockerfile: DF, 'data.bin': randomBytes(64 * 1024), 'app.js': `// ${i}\n` });
      return ctx;
    });
    build(contexts[0] as string, ['-t', 'keep:me']); // the oldest build is the tagged one
    for (const ctx of contexts.slice(1)) build(ctx);
    const tagged = ok(['inspect', '--root', store, 'keep:me']);
    expect(tagged).toContain('sha256:');

    const bound = 200_000;
    expect(duTotal()).toBeGreaterThan(bound);
    const out = ok(['cache', 'prune', '--root', store, '--keep-storage', '200kB']);
    expect(out).toMatch(
      /^removed \d+ cache records?, \d+ blobs?, \d+ snapshots?, \d+ listings?; freed \S+B \(store \S+B → \S+B\)$/m,
    );
    expect(duTotal()).toBeLessThanOrEqual(bound);

    // The tagged image is whole: every blob it references is there and verifies.
    expect(ok(['images', '--root', store])).toMatch(/^keep\s+me\s/m);
    const check = tsbuild(['cache', 'check', '--root', store, '--no-repair']);
    expect(check.stdout).toMatch(/\d+ tags: no problems\n$/);
    expect(check.status).toBe(0);
    // And a rebuild of it hits where its records were kept, rebuilds where they were not, and gives the same image.
    expect(ok(['build', '--root', store, '-q', contexts[0] as string]).trim()).toMatch(/^sha256:/);

    // --all: the tag and its blobs go too.
    const all = ok(['cache', 'prune', '--root', store, '--all']);
    expect(all).toContain('untagged docker.io/library/keep:me');
    expect(ok(['images', '--root', store, '-q'])).toBe('');
    expect(fs.readdirSync(path.join(store, 'blobs', 'sha256'))).toEqual([]);
    expect(records()).toEqual([]);
  });

  test('a bound the tagged images alone exceed is reported, not forced', () => {
    build(appContext(), ['-t', 'big:1']);
    const r = tsbuild(['cache', 'prune', '--root', store, '--keep-storage', '10B']);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/warning: the store is still \S+B, above 10B: tagged images are kept/);
    expect(ok(['images', '--root', store])).toMatch(/^big\s+1\s/m);
  });

  test('--keep-duration keeps recently used records; --dry-run removes nothing', () => {
    build(appContext());
    const n = records().length;
    expect(ok(['cache', 'prune', '--root', store, '--keep-duration', '1h'])).toMatch(
      /^removed 0 cache records/,
    );
    expect(records()).toHaveLength(n);
    expect(ok(['cache', 'prune', '--root', store, '--dry-run'])).toMatch(
      new RegExp(`^would remove ${n} cache records`),
    );
    expect(records()).toHaveLength(n);
    ok(['cache', 'prune', '--root', store]);
    expect(records()).toEqual([]);
  });

  test('bad sizes and durations exit 2 with one line', () => {
    for (const [flag, value] of [
      ['--keep-storage', 'lots'],
      ['--keep-duration', '7 days'],
    ] as const) {
      const r = tsbuild(['cache', 'prune', '--root', store, flag, value]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`invalid ${flag} "${value}"`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});

describe('tsbuild cache check', () => {
  test('a byte flipped in a layer on disk is found, removed with its record and tag, and the next build rebuilds the step', () => {
    const ctx = appContext();
    build(ctx, ['-t', 'app:1']);
    const copy = records().find((r) => r.description === 'COPY src/ ./src/');
    if (!copy?.layer) throw new Error('no COPY record');
    const file = blobFile(copy.layer);
    fs.chmodSync(file, 0o644);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] as number) ^ 0x40;
    fs.writeFileSync(file, bytes);

    // Reporting only: exit 1, the blob is named, nothing is removed.
    const report = tsbuild(['cache', 'check', '--root', store, '--no-repair']);
    expect(report.status).toBe(1);
    expect(report.stdout).toContain(`blob ${copy.layer} is corrupt: its content hashes to sha256:`);
    expect(report.stdout).toContain(
      `cache record ${copy.key.slice(7, 19)} (COPY src/ ./src/): its layer ${copy.layer} is corrupt`,
    );
    expect(report.stdout).toContain(`image docker.io/library/app:1: layer ${copy.layer} is corrupt`);
    expect(report.stderr).toContain('3 problems not repaired');
    expect(fs.existsSync(file)).toBe(true);

    // Repairing (the default): everything broken goes, exit 0.
    const repair = tsbuild(['cache', 'check', '--root', store]);
    expect(repair.status).toBe(0);
    expect(repair.stdout).toMatch(/3 problems, all repaired\n$/);
    expect(repair.stdout.split('\n').filter((l) => l.endsWith(' — removed'))).toHaveLength(3);
    expect(fs.existsSync(file)).toBe(false);
    expect(records().some((r) => r.key === copy.key)).toBe(false);

    // The next build rebuilds that step instead of using the broken layer; the store is whole again.
    const steps = build(ctx, ['-t', 'app:1']);
    const step = steps.find((s) => s.instruction === 'COPY src/ ./src/');
    expect(step?.cache).toBe('miss');
    expect(steps.find((s) => s.instruction === 'COPY package.json ./')?.cache).toBe('hit');
    expect(ok(['cache', 'check', '--root', store])).toMatch(/: no problems\n$/);
  });
});

describe('tsbuild cache explain', () => {
  test('names the first cause, with the cascade under it', () => {
    const ctx = appContext();
    build(ctx);
    fs.writeFileSync(path.join(ctx, 'src', 'server.js'), 'console.log(2)\n');
    build(ctx);
    const out = ok(['cache', 'explain', '--root', store, ctx]);
    expect(out).toContain('3 of 6 steps missed; the first cause:');
    expect(out).toContain('[4/6] COPY src/ ./src/ (line 4)\n    1 file changed: src/server.js (content)\n');
    expect(out).toContain(
      'then 2 steps missed because of it:\n      [5/6] ENV NODE_ENV=production (line 5)\n',
    );
    // The consequences are not causes.
    expect(out.match(/^ {2}\[/gm)).toHaveLength(1);
  });

  test('several stages: the changed build arg in one stage, and what followed in the next', () => {
    const ctx = path.join(dir, 'multi');
    writeTree(ctx, {
      Dockerfile: [
        'FROM scratch AS build',
        'ARG VERSION=1',
        // the arg reaches the filesystem (a step that does not use it would hit, as in BuildKit)
        'COPY src/ /src/v${VERSION}/',
        '',
        'FROM scratch AS final',
        'COPY --from=build /src/ /app/',
        'CMD ["app"]',
        '',
      ].join('\n'),
      'src/a.txt': 'a',
    });
    build(ctx, ['--build-arg', 'VERSION=1']);
    build(ctx, ['--build-arg', 'VERSION=2']);
    const out = ok(['cache', 'explain', '--root', store, ctx]);
    // The ARG step and the COPY that uses the arg each miss on their own; the final stage follows the COPY.
    expect(out).toContain('2 independent causes:');
    expect(out).toContain('[build 2/3] ARG VERSION=1 (line 2)\n    build arg VERSION changed 1 → 2\n');
    expect(out).toContain('[build 3/3] COPY src/ /src/v${VERSION}/ (line 3)\n    settings changed: dest');
    expect(out).toMatch(
      /then 2 steps missed because of it:\n\s+\[final 2\/3\] COPY --from=build \/src\/ \/app\/ \(line 6\)/,
    );
    expect(out).not.toContain('fromKey');
  });

  test('it reports what the last build recorded: an unrelated --no-cache build changes nothing, its own says --no-cache', () => {
    const ctx = appContext('recorded');
    build(ctx);
    const steps = build(ctx);
    expect(steps.every((s) => s.cache === 'hit')).toBe(true);
    // The same steps through another Dockerfile name, rebuilt: their records are made anew.
    fs.copyFileSync(path.join(ctx, 'Dockerfile'), path.join(ctx, 'Other.Dockerfile'));
    build(ctx, ['-f', path.join(ctx, 'Other.Dockerfile')]);
    build(ctx, ['-f', path.join(ctx, 'Other.Dockerfile'), '--no-cache']);
    const out = ok(['cache', 'explain', '--root', store, ctx]);
    expect(out).toContain(`every one of its ${steps.length} steps hit the cache`);
    const own = ok(['cache', 'explain', '--root', store, '-f', path.join(ctx, 'Other.Dockerfile'), ctx]);
    expect(own).toContain('--no-cache');
    expect(own).not.toContain('the cache record was gone');
  });

  test('--report OLD --report NEW compares two report files', () => {
    const ctx = appContext();
    build(ctx);
    const a = path.join(dir, 'a.json');
    const b = path.join(dir, 'b.json');
    ok(['build', '--root', store, '-q', '--report', a, ctx]);
    fs.writeFileSync(path.join(ctx, 'package.json'), '{"name":"app","version":"2"}\n');
    ok(['build', '--root', store, '-q', '--report', b, ctx]);
    const out = ok(['cache', 'explain', '--report', a, '--report', b]);
    expect(out).toContain(`${b} compared with ${a}`);
    expect(out).toContain(
      '[3/6] COPY package.json ./ (line 3)\n    1 file changed: package.json (content)\n',
    );
    expect(out).toContain('then 3 steps missed because of it:');
    const json = JSON.parse(ok(['cache', 'explain', '--report', a, '--report', b, '--json'])) as {
      causes: unknown[];
    };
    expect(json.causes).toHaveLength(1);
  });

  test('with one build remembered it says so; with none, or one report file, it exits 2', () => {
    const ctx = appContext();
    const none = tsbuild(['cache', 'explain', '--root', store, ctx]);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('no build of');
    build(ctx);
    expect(ok(['cache', 'explain', '--root', store, ctx])).toContain('only one build of');
    const one = tsbuild(['cache', 'explain', '--report', path.join(dir, 'a.json')]);
    expect(one.status).toBe(2);
    expect(one.stderr).toContain('--report is given twice');
  });
});
